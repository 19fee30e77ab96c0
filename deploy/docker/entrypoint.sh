#!/bin/sh
# registry | matching | events | web | gateway -> that service under uvicorn on $PORT
# anything else                         -> run as a command (e.g. `clusterbridge db upgrade`)
set -eu
case "${1:-gateway}" in
  registry|matching|events|web|gateway)
    service="${1:-gateway}"
    exec uvicorn "services.${service}.main:create_app" --factory \
      --host 0.0.0.0 --port "${PORT:-8000}" \
      --no-access-log --proxy-headers --forwarded-allow-ips='*' \
      --timeout-graceful-shutdown 20
    ;;
  *)
    exec "$@"
    ;;
esac
