#!/bin/sh
# Refuses to let the stack start with a credential left empty, a secret at its .env.example
# value, or a value that would break the URLs and the S3 config built from it. Usage:
#   preflight.sh PATH/TO/.env.example   (the values are read from the environment)
# Credentials are the variables of .env.example named *_USER, *_ACCESS_KEY, *_PASSWORD and
# *_SECRET_KEY; the last two are secrets.
set -eu
failed=0

refuse() {
    echo "preflight: $1" >&2
    failed=1
}

for pair in $(grep -E '^[A-Z0-9_]+(_USER|_ACCESS_KEY|_PASSWORD|_SECRET_KEY)=' "$1"); do
    name="${pair%%=*}"
    example="${pair#*=}"
    eval "value=\${$name:-}"
    if [ -z "$value" ]; then
        refuse "$name is empty: set it in .env"
        continue
    fi
    if printf '%s' "$value" | grep -q '[^A-Za-z0-9._~-]'; then
        refuse "$name may only use letters, digits and . _ ~ - (it goes into URLs and JSON)"
    fi
    case "$name" in
        *_PASSWORD | *_SECRET_KEY)
            if [ "$value" = "$example" ]; then
                refuse "$name is still the example value from .env.example: set a real one in .env (e.g. openssl rand -hex 24)"
            elif [ "${#value}" -lt 16 ]; then
                refuse "$name is shorter than 16 characters (e.g. openssl rand -hex 24)"
            fi
            ;;
    esac
done
if [ "${S3_APP_ACCESS_KEY:-}" = "${S3_ADMIN_ACCESS_KEY:-}" ]; then
    refuse "S3_APP_ACCESS_KEY must differ from S3_ADMIN_ACCESS_KEY: the platform gets its own key"
fi
if [ "$failed" = 0 ]; then
    echo "preflight: credentials are set"
fi
exit "$failed"
