#!/bin/sh
# Creates the Portcullis roles with deploy/postgres/roles.sql. The postgres image runs this once, as
# its superuser, when it initialises an empty data directory (/docker-entrypoint-initdb.d).
set -eu
: "${PORTCULLIS_OWNER_PASSWORD:?set PORTCULLIS_OWNER_PASSWORD for the migrations role}"
: "${PORTCULLIS_APP_PASSWORD:?set PORTCULLIS_APP_PASSWORD for the service role}"
psql --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -v ON_ERROR_STOP=1 \
  -v database="$POSTGRES_DB" -v schema=public \
  -v owner_role=portcullis_owner -v owner_password="$PORTCULLIS_OWNER_PASSWORD" \
  -v app_role=portcullis_app -v app_password="$PORTCULLIS_APP_PASSWORD" \
  -f /portcullis/roles.sql
