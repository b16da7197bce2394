// The schema, one migration per version. Append only: a shipped migration is never
// edited (databases have already run it); change the schema with the next version.
//
// Conventions: timestamps are timestamptz set from the database clock (now()), never a
// client's; statuses are text with CHECK constraints (readable in psql, extensible by
// a migration that swaps the constraint); jsonb for free-form documents.
#include "store/migrations.h"

#include <array>

namespace opfleet::store {

namespace {

// Version 1: runs, steps, the attempts log, schedule ticks, scaling events, supervisors.
constexpr std::string_view kV1 = R"sql(
-- One row per submitted run of a job.
CREATE TABLE runs (
  run_id       text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  job          text NOT NULL,
  status       text NOT NULL DEFAULT 'queued'
               CONSTRAINT runs_status_check
               CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  tags         jsonb NOT NULL DEFAULT '{}'::jsonb
               CONSTRAINT runs_tags_check CHECK (jsonb_typeof(tags) = 'object'),
  -- Multiplies every op duration of the run (0.01: a 20 s op sleeps 0.2 s). NaN sorts
  -- above Infinity in PostgreSQL, so the upper bound rejects it too.
  time_scale   double precision NOT NULL DEFAULT 1.0
               CONSTRAINT runs_time_scale_check
               CHECK (time_scale >= 0 AND time_scale < 'Infinity'::double precision),
  submitted_at timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  finished_at  timestamptz,
  error        text
);
CREATE INDEX runs_status_idx ON runs (status);
CREATE INDEX runs_submitted_at_idx ON runs (submitted_at);
CREATE INDEX runs_tags_idx ON runs USING gin (tags);

-- One row per op of a run. The claim protocol lives here: a worker takes a step only if
-- it is queued, or running with an expired lease (lease_expires_at < now(), the
-- database clock), and bumps fencing_token; every later write of that execution is
-- guarded by the token, so a worker that lost its lease can change nothing.
CREATE TABLE steps (
  run_id           text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  step_key         text NOT NULL,
  -- Computed by the database, so it can never disagree with (run_id, step_key); do not
  -- list it in an INSERT.
  idempotency_key  text GENERATED ALWAYS AS (run_id || '#' || step_key) STORED
                   CONSTRAINT steps_idempotency_key_key UNIQUE,
  op               jsonb NOT NULL,
  depends_on       text[] NOT NULL DEFAULT '{}',
  status           text NOT NULL DEFAULT 'pending'
                   CONSTRAINT steps_status_check
                   CHECK (status IN ('pending', 'queued', 'running', 'succeeded', 'failed',
                                     'skipped')),
  attempt          integer NOT NULL DEFAULT 0 CONSTRAINT steps_attempt_check CHECK (attempt >= 0),
  max_attempts     integer NOT NULL DEFAULT 3
                   CONSTRAINT steps_max_attempts_check CHECK (max_attempts >= 1),
  lease_owner      text,
  lease_expires_at timestamptz,
  fencing_token    bigint NOT NULL DEFAULT 0,
  queued_at        timestamptz,
  -- When the step's message went to SQS. NULL while queued: not sent yet (or the send
  -- failed), and the sweeper sends it again.
  sent_at          timestamptz,
  -- A failed attempt is retried no earlier than this (retry backoff).
  not_before       timestamptz,
  started_at       timestamptz,
  finished_at      timestamptz,
  result           jsonb,
  error            text,
  PRIMARY KEY (run_id, step_key),
  -- A running step always has an owner and a lease to expire.
  CONSTRAINT steps_running_lease_check
    CHECK (status <> 'running' OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
);
-- The sweeper: queued steps whose message was never sent.
CREATE INDEX steps_unsent_idx ON steps (queued_at) WHERE status = 'queued' AND sent_at IS NULL;
-- Lease recovery: running steps by lease expiry.
CREATE INDEX steps_lease_idx ON steps (lease_expires_at) WHERE status = 'running';
-- Age of the oldest queued op (the scaler's input; SQS has no such attribute).
CREATE INDEX steps_queued_at_idx ON steps (queued_at) WHERE status = 'queued';

-- Append-only log: one row per execution start. Only the closing of a row (ended_at,
-- outcome, error, once, from outcome 'running') may change it; deletes are refused
-- unless the transaction says SET LOCAL opfleet.purge = 'on' (retention jobs).
CREATE TABLE attempts (
  id            bigserial PRIMARY KEY,
  run_id        text NOT NULL,
  step_key      text NOT NULL,
  attempt       integer NOT NULL CONSTRAINT attempts_attempt_check CHECK (attempt >= 0),
  fencing_token bigint NOT NULL,
  worker_id     text NOT NULL,
  host          text NOT NULL,
  pid           integer NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  ended_at      timestamptz,
  outcome       text NOT NULL DEFAULT 'running'
                CONSTRAINT attempts_outcome_check
                CHECK (outcome IN ('running', 'succeeded', 'failed', 'crashed', 'handed_back',
                                   'fenced', 'lease_expired')),
  error         text,
  FOREIGN KEY (run_id, step_key) REFERENCES steps (run_id, step_key),
  CONSTRAINT attempts_ended_check CHECK ((outcome = 'running') = (ended_at IS NULL))
);
CREATE INDEX attempts_step_idx ON attempts (run_id, step_key);

CREATE FUNCTION attempts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF current_setting('opfleet.purge', true) = 'on' THEN
      RETURN OLD;
    END IF;
    RAISE EXCEPTION 'attempts is append-only: row % cannot be deleted', OLD.id
      USING ERRCODE = 'restrict_violation',
            HINT = 'retention jobs run SET LOCAL opfleet.purge = ''on'' first';
  END IF;
  IF OLD.outcome <> 'running' THEN
    RAISE EXCEPTION 'attempt % is already closed (outcome %); the attempts log is append-only',
      OLD.id, OLD.outcome
      USING ERRCODE = 'restrict_violation',
            HINT = 'close attempts with UPDATE ... WHERE outcome = ''running''';
  END IF;
  IF NEW.id <> OLD.id OR NEW.run_id <> OLD.run_id OR NEW.step_key <> OLD.step_key
     OR NEW.attempt <> OLD.attempt OR NEW.fencing_token <> OLD.fencing_token
     OR NEW.worker_id <> OLD.worker_id OR NEW.host <> OLD.host OR NEW.pid <> OLD.pid
     OR NEW.started_at <> OLD.started_at THEN
    RAISE EXCEPTION 'attempt %: only ended_at, outcome and error may change', OLD.id
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER attempts_append_only BEFORE UPDATE OR DELETE ON attempts
  FOR EACH ROW EXECUTE FUNCTION attempts_append_only();

-- One row per cron tick that submitted a run: the primary key makes two schedulers
-- racing on the same tick insert it once (INSERT ... ON CONFLICT DO NOTHING).
CREATE TABLE schedule_ticks (
  schedule_name text NOT NULL,
  tick_at       timestamptz NOT NULL,
  job           text NOT NULL,
  -- Deferred, so the tick and its run can be inserted in either order in one transaction.
  run_id        text REFERENCES runs (run_id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
  recorded_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (schedule_name, tick_at)
);

-- What the scaler decided and did, and the faults it injected or met.
CREATE TABLE scaling_events (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  source     text NOT NULL,
  kind       text NOT NULL
             CONSTRAINT scaling_events_kind_check
             CHECK (kind IN ('decision', 'action', 'fault', 'error')),
  action     text,
  from_count integer,
  to_count   integer,
  reason     text,
  details    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX scaling_events_at_idx ON scaling_events (at);

-- Supervisor heartbeats (upserted every few seconds) for the dashboard and the scaler.
CREATE TABLE supervisors (
  host         text NOT NULL,
  instance     text NOT NULL,
  pid          integer NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  workers      integer NOT NULL DEFAULT 0,
  busy_slots   integer NOT NULL DEFAULT 0,
  total_slots  integer NOT NULL DEFAULT 0,
  state        text NOT NULL DEFAULT 'starting',
  details      jsonb NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY (host, instance)
);
CREATE INDEX supervisors_heartbeat_idx ON supervisors (heartbeat_at);
)sql";

// Version 2: queue depth over time. SQS keeps no history, so the scaler writes one row per
// queue per poll; the dashboard charts it (ui/, docs/ui.md). Old rows are for a retention
// job to delete; the indexes serve the chart (a queue's newest window) and that purge (by age).
constexpr std::string_view kV2 = R"sql(
CREATE TABLE queue_samples (
  id                   bigserial PRIMARY KEY,
  at                   timestamptz NOT NULL DEFAULT now(),
  queue                text NOT NULL,
  visible              integer NOT NULL CONSTRAINT queue_samples_visible_check CHECK (visible >= 0),
  in_flight            integer NOT NULL
                       CONSTRAINT queue_samples_in_flight_check CHECK (in_flight >= 0),
  delayed              integer NOT NULL DEFAULT 0
                       CONSTRAINT queue_samples_delayed_check CHECK (delayed >= 0),
  -- From PostgreSQL (steps queued the longest), since SQS has no such attribute; NULL when
  -- nothing is queued.
  oldest_queued_age_s  double precision
);
CREATE INDEX queue_samples_queue_at_idx ON queue_samples (queue, at);
CREATE INDEX queue_samples_at_idx ON queue_samples (at);
)sql";

constexpr std::array kMigrations = {
    Migration{1, "initial_schema", kV1},
    Migration{2, "queue_samples", kV2},
};

}  // namespace

std::span<const Migration> migrations() {
  return kMigrations;
}

}  // namespace opfleet::store
