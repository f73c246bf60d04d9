-- Documents of the documents check (issue #5): the forms Lanyard
-- generates for a card's certificates, the signed copies owners upload and
-- the document officers' decisions. Keep in step with
-- postgres/0005_documents.sql.
--
-- Uploads and decisions are history: rows are only ever added. A form,
-- once generated, is kept byte for byte (document_forms), because a
-- detached CMS signature covers exactly those bytes.
CREATE TABLE documents (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    card_id      INTEGER NOT NULL REFERENCES cards (id),
    user_id      INTEGER NOT NULL REFERENCES users (id),
    operation_id INTEGER REFERENCES operations (id),
    slot         TEXT    NOT NULL,
    template     TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('certificate_request', 'certificate_form')),
    state        TEXT    NOT NULL CHECK (state IN ('awaiting_upload', 'uploaded', 'approved', 'rejected')),
    form_sha256  TEXT    NOT NULL DEFAULT '',
    uploads      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX documents_card ON documents (card_id, slot, kind);
CREATE INDEX documents_user ON documents (user_id);
CREATE INDEX documents_state ON documents (state);

CREATE TABLE document_forms (
    document_id INTEGER PRIMARY KEY REFERENCES documents (id),
    pdf         BLOB    NOT NULL
) STRICT;

CREATE TABLE document_uploads (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id    INTEGER NOT NULL REFERENCES documents (id),
    version        INTEGER NOT NULL,
    file_name      TEXT    NOT NULL,
    content_type   TEXT    NOT NULL,
    format         TEXT    NOT NULL CHECK (format IN ('pdf', 'image', 'cms', 'receipt')),
    size           INTEGER NOT NULL,
    sha256         TEXT    NOT NULL,
    content        BLOB    NOT NULL,
    signer_serial  TEXT    NOT NULL DEFAULT '',
    signer_subject TEXT    NOT NULL DEFAULT '',
    uploaded_by    INTEGER NOT NULL REFERENCES users (id),
    uploaded_at    INTEGER NOT NULL,
    UNIQUE (document_id, version)
) STRICT;

CREATE TABLE document_decisions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id INTEGER NOT NULL REFERENCES documents (id),
    version     INTEGER NOT NULL,
    decision    TEXT    NOT NULL CHECK (decision IN ('approved', 'rejected')),
    comment     TEXT    NOT NULL DEFAULT '',
    decided_by  INTEGER NOT NULL REFERENCES users (id),
    decided_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX document_decisions_document ON document_decisions (document_id);
