-- Creates one service's login role and database when they are missing, and
-- sets the role's password from Parameter Store on every run, so that a
-- rotated password takes effect at the next boot. Idempotent; safe to run
-- from several instances at once (an advisory lock serialises them).
--
-- Run by the startup script as the RDS master user:
--   psql -X -f db-init.sql   with PG* and WEALIST_DB_NAME, WEALIST_DB_USER,
--   WEALIST_DB_PASSWORD_VERIFIER (a SCRAM-SHA-256 verifier) in the environment.
-- Values come in through \getenv and are quoted by format(): %I for names,
-- %L for literals, so no value can change the statements.
\set ON_ERROR_STOP on
\set QUIET on
\getenv db_name WEALIST_DB_NAME
\getenv db_user WEALIST_DB_USER
\getenv db_verifier WEALIST_DB_PASSWORD_VERIFIER
SELECT :'db_name' <> '' AND :'db_user' <> '' AND :'db_verifier' LIKE 'SCRAM-SHA-256$%' AS inputs_ok \gset
\if :inputs_ok
\else
  -- An error, not \quit: with ON_ERROR_STOP, psql then exits non-zero.
  DO $$ BEGIN RAISE EXCEPTION 'db-init.sql: WEALIST_DB_NAME, WEALIST_DB_USER and '
                              'WEALIST_DB_PASSWORD_VERIFIER (SCRAM-SHA-256) must be set'; END $$;
\endif

SELECT pg_advisory_lock(hashtext('wealist-db-init')) AS locked \gset

-- The RDS master user is not a superuser (LOGIN CREATEROLE CREATEDB, member
-- of rds_superuser). Since PostgreSQL 16 such a role may not name SUPERUSER or
-- NOSUPERUSER at all (ALTER ROLE: "Only roles with the SUPERUSER attribute may
-- change the SUPERUSER attribute"); a role it creates is never a superuser.
SELECT format('CREATE ROLE %I LOGIN NOCREATEDB NOCREATEROLE', :'db_user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'db_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD %L',
              :'db_user', :'db_verifier') \gexec

-- Since PostgreSQL 16, making a role a database's owner needs SET on that role
-- (CREATE DATABASE, ALTER DATABASE ... OWNER TO); the implicit grant a
-- CREATEROLE user gets on a role it creates has ADMIN but neither SET nor
-- INHERIT. An explicit grant by the master gives both; repeating it is a
-- no-op with a notice.
SELECT format('GRANT %I TO CURRENT_USER', :'db_user') \gexec

SELECT format('CREATE DATABASE %I OWNER %I', :'db_name', :'db_user')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db_name') \gexec
-- A database created by hand before (the original's to-do) belongs to the
-- master user; the service owns its database, and no other role may connect.
SELECT format('ALTER DATABASE %I OWNER TO %I', :'db_name', :'db_user') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db_name') \gexec

SELECT pg_advisory_unlock(hashtext('wealist-db-init')) AS unlocked \gset
\echo db-init.sql: role :db_user and database :db_name ready
