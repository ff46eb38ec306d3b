-- clestudy: the SQLite schema the Alembic migrations build on an empty database.
-- Generated from the migrations by `python scripts/schema_snapshot.py`; never edit by hand.
-- Regenerate it after adding or changing a migration (a test fails until then).
-- revision: 0011

CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
CREATE TABLE study (
	id INTEGER NOT NULL, 
	study_key VARCHAR(64) NOT NULL, 
	protocol_version VARCHAR(32) NOT NULL, 
	protocol_json TEXT NOT NULL, 
	created_at VARCHAR(32) NOT NULL, current_snapshot_id INTEGER, 
	CONSTRAINT pk_study PRIMARY KEY (id), 
	CONSTRAINT uq_study_study_key UNIQUE (study_key)
);
CREATE TABLE subject (
	id INTEGER NOT NULL, 
	study_id INTEGER NOT NULL, 
	subject_key VARCHAR(64) NOT NULL, 
	arm VARCHAR(64) NOT NULL, 
	site VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	created_at VARCHAR(32) NOT NULL, deleted BOOLEAN DEFAULT 0 NOT NULL, 
	CONSTRAINT pk_subject PRIMARY KEY (id), 
	CONSTRAINT fk_subject_study_id_study FOREIGN KEY(study_id) REFERENCES study (id), 
	CONSTRAINT uq_subject_study_id_subject_key UNIQUE (study_id, subject_key)
);
CREATE TABLE form_record (
	id INTEGER NOT NULL, 
	study_id INTEGER NOT NULL, 
	subject_id INTEGER NOT NULL, 
	visit_key VARCHAR(64) NOT NULL, 
	form_key VARCHAR(64) NOT NULL, 
	instance INTEGER NOT NULL, 
	values_json TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	version INTEGER NOT NULL, 
	created_at VARCHAR(32) NOT NULL, 
	updated_at VARCHAR(32) NOT NULL, 
	updated_by VARCHAR(128) NOT NULL, protocol_version VARCHAR(32), status_before_lock VARCHAR(16), deleted BOOLEAN DEFAULT 0 NOT NULL, 
	CONSTRAINT pk_form_record PRIMARY KEY (id), 
	CONSTRAINT fk_form_record_study_id_study FOREIGN KEY(study_id) REFERENCES study (id), 
	CONSTRAINT fk_form_record_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (id), 
	CONSTRAINT uq_form_record_subject_id_visit_key_form_key_instance UNIQUE (subject_id, visit_key, form_key, instance)
);
CREATE TABLE derived_score (
	id INTEGER NOT NULL, 
	record_id INTEGER NOT NULL, 
	score_key VARCHAR(64) NOT NULL, 
	instrument VARCHAR(64) NOT NULL, 
	instrument_version VARCHAR(64) NOT NULL, 
	values_json TEXT NOT NULL, 
	computed_at VARCHAR(32) NOT NULL, 
	CONSTRAINT pk_derived_score PRIMARY KEY (id), 
	CONSTRAINT fk_derived_score_record_id_form_record FOREIGN KEY(record_id) REFERENCES form_record (id), 
	CONSTRAINT uq_derived_score_record_id_score_key UNIQUE (record_id, score_key)
);
CREATE TABLE protocol_snapshot (
	id INTEGER NOT NULL, 
	study_id INTEGER NOT NULL, 
	version VARCHAR(32) NOT NULL, 
	protocol_json TEXT NOT NULL, 
	sha256 VARCHAR(64) NOT NULL, 
	created_at VARCHAR(32) NOT NULL, 
	created_by VARCHAR(128) NOT NULL, 
	CONSTRAINT pk_protocol_snapshot PRIMARY KEY (id), 
	CONSTRAINT fk_protocol_snapshot_study_id_study FOREIGN KEY(study_id) REFERENCES study (id), 
	CONSTRAINT uq_protocol_snapshot_study_id_version UNIQUE (study_id, version)
);
CREATE TABLE discrepancy (
	id INTEGER NOT NULL, 
	record_id INTEGER NOT NULL, 
	check_id VARCHAR(64) NOT NULL, 
	severity VARCHAR(16) NOT NULL, 
	fields_json TEXT NOT NULL, 
	message TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	resolution TEXT, 
	opened_at VARCHAR(32) NOT NULL, 
	updated_at VARCHAR(32) NOT NULL, 
	updated_by VARCHAR(128) NOT NULL, 
	CONSTRAINT pk_discrepancy PRIMARY KEY (id), 
	CONSTRAINT fk_discrepancy_record_id_form_record FOREIGN KEY(record_id) REFERENCES form_record (id), 
	CONSTRAINT uq_discrepancy_record_id_check_id UNIQUE (record_id, check_id)
);
CREATE TABLE users (
	id INTEGER NOT NULL, 
	username VARCHAR(64) NOT NULL, 
	full_name VARCHAR(256) NOT NULL, 
	role VARCHAR(32) NOT NULL, 
	password_hash VARCHAR(256) NOT NULL, 
	suspended BOOLEAN DEFAULT 0 NOT NULL, 
	failed_attempts INTEGER DEFAULT '0' NOT NULL, 
	locked_until VARCHAR(32), 
	created_at VARCHAR(32) NOT NULL, 
	updated_at VARCHAR(32) NOT NULL, 
	CONSTRAINT pk_users PRIMARY KEY (id), 
	CONSTRAINT uq_users_username UNIQUE (username)
);
CREATE TABLE user_sites (
	id INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	site VARCHAR(64) NOT NULL, 
	CONSTRAINT pk_user_sites PRIMARY KEY (id), 
	CONSTRAINT fk_user_sites_user_id_users FOREIGN KEY(user_id) REFERENCES users (id), 
	CONSTRAINT uq_user_sites_user_id_site UNIQUE (user_id, site)
);
CREATE TABLE sessions (
	id INTEGER NOT NULL, 
	token_sha256 VARCHAR(64) NOT NULL, 
	user_id INTEGER NOT NULL, 
	created_at VARCHAR(32) NOT NULL, 
	last_seen_at VARCHAR(32) NOT NULL, 
	ended_at VARCHAR(32), 
	CONSTRAINT pk_sessions PRIMARY KEY (id), 
	CONSTRAINT fk_sessions_user_id_users FOREIGN KEY(user_id) REFERENCES users (id), 
	CONSTRAINT uq_sessions_token_sha256 UNIQUE (token_sha256)
);
CREATE INDEX ix_sessions_user_id ON sessions (user_id);
CREATE TABLE api_tokens (
	id INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	label VARCHAR(128) NOT NULL, 
	token_sha256 VARCHAR(64) NOT NULL, 
	created_at VARCHAR(32) NOT NULL, 
	revoked_at VARCHAR(32), 
	CONSTRAINT pk_api_tokens PRIMARY KEY (id), 
	CONSTRAINT fk_api_tokens_user_id_users FOREIGN KEY(user_id) REFERENCES users (id), 
	CONSTRAINT uq_api_tokens_token_sha256 UNIQUE (token_sha256)
);
CREATE INDEX ix_api_tokens_user_id ON api_tokens (user_id);
CREATE TABLE account_event (
	seq INTEGER NOT NULL, 
	occurred_at VARCHAR(32) NOT NULL, 
	actor VARCHAR(128) NOT NULL, 
	action VARCHAR(32) NOT NULL, 
	username VARCHAR(256) NOT NULL, 
	detail_json TEXT NOT NULL, 
	prev_hash VARCHAR(64) NOT NULL, 
	hash VARCHAR(64) NOT NULL, 
	CONSTRAINT pk_account_event PRIMARY KEY (seq), 
	CONSTRAINT uq_account_event_prev_hash UNIQUE (prev_hash), 
	CONSTRAINT uq_account_event_hash UNIQUE (hash)
);
CREATE TRIGGER account_event_no_update BEFORE UPDATE ON account_event BEGIN SELECT RAISE(ABORT, 'account_event is append-only'); END;
CREATE TRIGGER account_event_no_delete BEFORE DELETE ON account_event BEGIN SELECT RAISE(ABORT, 'account_event is append-only'); END;
CREATE TABLE data_query (
	id INTEGER NOT NULL, 
	record_id INTEGER NOT NULL, 
	field_id VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	origin VARCHAR(128) NOT NULL, 
	raised_at VARCHAR(32) NOT NULL, 
	raised_by VARCHAR(128) NOT NULL, 
	updated_at VARCHAR(32) NOT NULL, 
	updated_by VARCHAR(128) NOT NULL, 
	closed_at VARCHAR(32), 
	CONSTRAINT pk_data_query PRIMARY KEY (id), 
	CONSTRAINT fk_data_query_record_id_form_record FOREIGN KEY(record_id) REFERENCES form_record (id), 
	CONSTRAINT uq_data_query_record_id_field_id UNIQUE (record_id, field_id)
);
CREATE TABLE data_query_message (
	id INTEGER NOT NULL, 
	query_id INTEGER NOT NULL, 
	seq INTEGER NOT NULL, 
	action VARCHAR(16) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	author VARCHAR(128) NOT NULL, 
	created_at VARCHAR(32) NOT NULL, 
	text TEXT NOT NULL, 
	CONSTRAINT pk_data_query_message PRIMARY KEY (id), 
	CONSTRAINT fk_data_query_message_query_id_data_query FOREIGN KEY(query_id) REFERENCES data_query (id), 
	CONSTRAINT uq_data_query_message_query_id_seq UNIQUE (query_id, seq)
);
CREATE TRIGGER data_query_message_no_update BEFORE UPDATE ON data_query_message BEGIN SELECT RAISE(ABORT, 'data_query_message is append-only'); END;
CREATE TRIGGER data_query_message_no_delete BEFORE DELETE ON data_query_message BEGIN SELECT RAISE(ABORT, 'data_query_message is append-only'); END;
CREATE TABLE field_verification (
	id INTEGER NOT NULL, 
	record_id INTEGER NOT NULL, 
	fields_json TEXT NOT NULL, 
	updated_at VARCHAR(32) NOT NULL, 
	updated_by VARCHAR(128) NOT NULL, 
	CONSTRAINT pk_field_verification PRIMARY KEY (id), 
	CONSTRAINT fk_field_verification_record_id_form_record FOREIGN KEY(record_id) REFERENCES form_record (id), 
	CONSTRAINT uq_field_verification_record_id UNIQUE (record_id)
);
CREATE TABLE data_lock (
	id INTEGER NOT NULL, 
	subject_id INTEGER NOT NULL, 
	visit_key VARCHAR(64) NOT NULL, 
	locked BOOLEAN NOT NULL, 
	updated_at VARCHAR(32) NOT NULL, 
	updated_by VARCHAR(128) NOT NULL, 
	CONSTRAINT pk_data_lock PRIMARY KEY (id), 
	CONSTRAINT fk_data_lock_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (id), 
	CONSTRAINT uq_data_lock_subject_id_visit_key UNIQUE (subject_id, visit_key)
);
CREATE TABLE signature (
	id INTEGER NOT NULL, 
	study_id INTEGER NOT NULL, 
	subject_id INTEGER NOT NULL, 
	visit_key VARCHAR(64), 
	signer VARCHAR(64) NOT NULL, 
	signer_name VARCHAR(256) NOT NULL, 
	meaning VARCHAR(16) NOT NULL, 
	attestation TEXT NOT NULL, 
	signed_at VARCHAR(32) NOT NULL, 
	data_sha256 VARCHAR(64) NOT NULL, 
	records_json TEXT NOT NULL, 
	CONSTRAINT pk_signature PRIMARY KEY (id), 
	CONSTRAINT fk_signature_study_id_study FOREIGN KEY(study_id) REFERENCES study (id), 
	CONSTRAINT fk_signature_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (id)
);
CREATE INDEX ix_signature_subject_id ON signature (subject_id);
CREATE TABLE signature_void (
	id INTEGER NOT NULL, 
	signature_id INTEGER NOT NULL, 
	voided_at VARCHAR(32) NOT NULL, 
	voided_by VARCHAR(128) NOT NULL, 
	cause_json TEXT NOT NULL, 
	CONSTRAINT pk_signature_void PRIMARY KEY (id), 
	CONSTRAINT fk_signature_void_signature_id_signature FOREIGN KEY(signature_id) REFERENCES signature (id), 
	CONSTRAINT uq_signature_void_signature_id UNIQUE (signature_id)
);
CREATE TRIGGER signature_no_update BEFORE UPDATE ON signature BEGIN SELECT RAISE(ABORT, 'signature is append-only'); END;
CREATE TRIGGER signature_no_delete BEFORE DELETE ON signature BEGIN SELECT RAISE(ABORT, 'signature is append-only'); END;
CREATE TRIGGER signature_void_no_update BEFORE UPDATE ON signature_void BEGIN SELECT RAISE(ABORT, 'signature_void is append-only'); END;
CREATE TRIGGER signature_void_no_delete BEFORE DELETE ON signature_void BEGIN SELECT RAISE(ABORT, 'signature_void is append-only'); END;
CREATE TABLE allocation (
	id INTEGER NOT NULL, 
	study_id INTEGER NOT NULL, 
	stratum VARCHAR(256) NOT NULL, 
	sequence INTEGER NOT NULL, 
	arm VARCHAR(64) NOT NULL, 
	block INTEGER, 
	block_size INTEGER, 
	subject_id INTEGER, 
	used_at VARCHAR(32), 
	used_by VARCHAR(128), 
	CONSTRAINT pk_allocation PRIMARY KEY (id), 
	CONSTRAINT fk_allocation_study_id_study FOREIGN KEY(study_id) REFERENCES study (id), 
	CONSTRAINT fk_allocation_subject_id_subject FOREIGN KEY(subject_id) REFERENCES subject (id), 
	CONSTRAINT uq_allocation_study_id_stratum_sequence UNIQUE (study_id, stratum, sequence), 
	CONSTRAINT uq_allocation_subject_id UNIQUE (subject_id)
);
CREATE TABLE dq_run (
	id INTEGER NOT NULL, 
	study_id INTEGER NOT NULL, 
	run_at VARCHAR(32) NOT NULL, 
	run_by VARCHAR(128) NOT NULL, 
	as_of VARCHAR(10) NOT NULL, 
	protocol_version VARCHAR(32) NOT NULL, 
	data_sha256 VARCHAR(64) NOT NULL, 
	findings_sha256 VARCHAR(64) NOT NULL, 
	counts_json TEXT NOT NULL, 
	findings_json TEXT NOT NULL, 
	CONSTRAINT pk_dq_run PRIMARY KEY (id), 
	CONSTRAINT fk_dq_run_study_id_study FOREIGN KEY(study_id) REFERENCES study (id)
);
CREATE INDEX ix_dq_run_study_id ON dq_run (study_id);
CREATE TABLE dq_exclusion (
	id INTEGER NOT NULL, 
	study_id INTEGER NOT NULL, 
	subject_key VARCHAR(64) NOT NULL, 
	finding_key VARCHAR(256) NOT NULL, 
	rule VARCHAR(64) NOT NULL, 
	data_sha256 VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	reason TEXT NOT NULL, 
	updated_at VARCHAR(32) NOT NULL, 
	updated_by VARCHAR(128) NOT NULL, 
	CONSTRAINT pk_dq_exclusion PRIMARY KEY (id), 
	CONSTRAINT fk_dq_exclusion_study_id_study FOREIGN KEY(study_id) REFERENCES study (id), 
	CONSTRAINT uq_dq_exclusion_study_id_finding_key UNIQUE (study_id, finding_key)
);
CREATE TABLE account_setting (
	name VARCHAR(64) NOT NULL, 
	value VARCHAR(256) NOT NULL, 
	CONSTRAINT pk_account_setting PRIMARY KEY (name)
);
CREATE TABLE "audit_event" (
	seq INTEGER NOT NULL, 
	format_version INTEGER NOT NULL, 
	occurred_at VARCHAR(32) NOT NULL, 
	actor VARCHAR(128) NOT NULL, 
	action VARCHAR(32) NOT NULL, 
	entity_type VARCHAR(32) NOT NULL, 
	entity_key VARCHAR(256) NOT NULL, 
	before_json TEXT, 
	after_json TEXT, 
	reason TEXT, 
	prev_hash VARCHAR(64) NOT NULL, 
	hash VARCHAR(64) NOT NULL, 
	chain VARCHAR(128) DEFAULT ('') NOT NULL, 
	chain_seq INTEGER DEFAULT '0' NOT NULL, 
	key_id VARCHAR(64), 
	CONSTRAINT pk_audit_event PRIMARY KEY (seq)
);
CREATE UNIQUE INDEX ix_audit_event_chain ON audit_event (chain, chain_seq);
CREATE INDEX ix_audit_event_entity_key ON audit_event (entity_key);
CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END;
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END;

INSERT INTO "alembic_version" (version_num) VALUES ('0011');
INSERT INTO "account_setting" (name, value) VALUES ('unknown_user_salt', :unknown_user_salt);
