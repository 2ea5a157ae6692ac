#!/bin/sh
# Prints SeaweedFS's S3 identities (its -s3.config file) from the environment: the store's
# admin, and the platform's own key, which may only read, write and list the two buckets.
# There is no anonymous identity, so unsigned requests are refused. preflight.sh has checked
# that the keys hold only JSON-safe characters.
set -eu
app_actions=""
for bucket in ${S3_BUCKETS:?}; do
    for action in Read Write List; do
        app_actions="$app_actions${app_actions:+, }\"$action:$bucket\""
    done
done
cat <<JSON
{
  "identities": [
    {
      "name": "admin",
      "credentials": [{"accessKey": "${S3_ADMIN_ACCESS_KEY:?}", "secretKey": "${S3_ADMIN_SECRET_KEY:?}"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    },
    {
      "name": "bitso-platform",
      "credentials": [{"accessKey": "${S3_APP_ACCESS_KEY:?}", "secretKey": "${S3_APP_SECRET_KEY:?}"}],
      "actions": [$app_actions]
    }
  ]
}
JSON
