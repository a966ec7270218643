-- Least-privilege roles for Portcullis on PostgreSQL (13 or newer).
--
-- owner_role  owns the schema and runs `portcullis migrate` (DATABASE_ADMIN_URL).
-- app_role    is what the service and workers connect as (DATABASE_URL): it may read and write rows
--             of the Portcullis tables and nothing else (no CREATE/ALTER/DROP, no temporary tables).
--
-- Run once, as a superuser or the database owner, connected to the (already created) database:
--
--   psql "postgres://postgres@db-host/portcullis" -v ON_ERROR_STOP=1 \
--     -v database=portcullis -v schema=public \
--     -v owner_role=portcullis_owner -v owner_password="$OWNER_PASSWORD" \
--     -v app_role=portcullis_app -v app_password="$APP_PASSWORD" \
--     -f deploy/postgres/roles.sql
--
-- Every value is passed as a psql variable, quoted by psql (:"identifier", :'literal'), so names and
-- passwords need no escaping. src/store/least-privilege.test.ts applies this same file.

CREATE ROLE :"owner_role" LOGIN PASSWORD :'owner_password';
CREATE ROLE :"app_role" LOGIN PASSWORD :'app_password';

-- Only the two roles may connect; nobody else gets temporary tables or new schemas in this database.
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"database" TO :"owner_role", :"app_role";

-- Before PostgreSQL 15 everyone may create tables in `public`; nobody may here.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- The owner owns the schema (so migrations can create and alter tables in it); others may not create in it.
CREATE SCHEMA IF NOT EXISTS :"schema";
ALTER SCHEMA :"schema" OWNER TO :"owner_role";
REVOKE ALL ON SCHEMA :"schema" FROM PUBLIC;
GRANT USAGE ON SCHEMA :"schema" TO :"app_role";

-- Rows only: tables that already exist, and every table or sequence the owner creates later
-- (each new migration) without anyone having to remember a GRANT.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA :"schema" TO :"app_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA :"schema" TO :"app_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA :"schema" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA :"schema" GRANT USAGE, SELECT ON SEQUENCES TO :"app_role";

-- Both roles find the tables (and Kysely's migration bookkeeping) in the schema without configuration.
ALTER ROLE :"owner_role" IN DATABASE :"database" SET search_path TO :"schema";
ALTER ROLE :"app_role" IN DATABASE :"database" SET search_path TO :"schema";
