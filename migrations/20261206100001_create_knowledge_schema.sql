-- The knowledge service (issue 14): collections, their documents (with the uploaded source
-- kept for re-chunking) and the chunks retrieval searches. See docs/architecture.md
-- "Knowledge service".
create schema if not exists knowledge;

create table knowledge.collections (
    id              uuid not null,
    tenant_id       uuid not null,
    name            text not null,
    description     text,
    embedding_model text not null default 'nomic-embed-text',
    chunk_size      integer not null default 1000,
    chunk_overlap   integer not null default 200,
    metadata        jsonb not null default '{}',
    -- Bumped by every change to the collection or its documents; query results are cached
    -- under it, so a change can never serve a stale result.
    version         bigint not null default 1,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint collections_pkey primary key (id),
    constraint collections_name_not_blank check (btrim(name) <> ''),
    constraint collections_chunk_size_range check (chunk_size between 50 and 8000),
    constraint collections_chunk_overlap_range check (chunk_overlap >= 0 and chunk_overlap < chunk_size),
    constraint collections_metadata_object check (jsonb_typeof(metadata) = 'object')
);
-- Names are unique per tenant (case-insensitive).
create unique index collections_tenant_name_key on knowledge.collections (tenant_id, lower(name));
-- The list: a tenant's collections newest first.
create index collections_tenant_created_idx on knowledge.collections (tenant_id, created_at desc, id desc);

create table knowledge.documents (
    id               uuid not null,
    tenant_id        uuid not null,
    collection_id    uuid not null,
    filename         text not null,
    content_type     text not null,
    kind             text not null,
    size_bytes       bigint not null,
    content_hash     bytea not null,
    metadata         jsonb not null default '{}',
    status           text not null default 'processing',
    error            text,
    attempts         integer not null default 0,
    chunk_count      integer not null default 0,
    -- The ingestion engine holding the document, until when; an expired lease is taken over.
    leased_by        uuid,
    lease_expires_at timestamptz,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    processed_at     timestamptz,
    constraint documents_pkey primary key (id),
    constraint documents_collection_fkey foreign key (collection_id)
        references knowledge.collections (id) on delete cascade,
    constraint documents_status_known check (status in ('processing', 'ready', 'failed')),
    constraint documents_kind_known check (kind in ('text', 'markdown', 'html', 'pdf', 'json')),
    constraint documents_metadata_object check (jsonb_typeof(metadata) = 'object')
);
-- The same content is stored once per collection (a re-upload finds it).
create unique index documents_collection_hash_key on knowledge.documents (collection_id, content_hash);
-- The list: a collection's documents newest first (and the count per collection).
create index documents_tenant_collection_created_idx
    on knowledge.documents (tenant_id, collection_id, created_at desc, id desc);
-- The ingestion queue: documents still processing, oldest first.
create index documents_processing_idx on knowledge.documents (created_at)
    where status = 'processing';

-- The uploaded bytes, apart from the document row so lists never read them.
create table knowledge.document_sources (
    document_id uuid not null,
    content     bytea not null,
    constraint document_sources_pkey primary key (document_id),
    constraint document_sources_document_fkey foreign key (document_id)
        references knowledge.documents (id) on delete cascade
);

-- Chunks of ingested documents. A document's chunks are replaced in one transaction, so the
-- chunks present are exactly those of its last successful ingestion. (The semantic leg will
-- add an embedding column here.)
create table knowledge.chunks (
    document_id   uuid not null,
    chunk_index   integer not null,
    tenant_id     uuid not null,
    collection_id uuid not null,
    content       text not null,
    -- Character (not byte) offsets into the document's extracted text.
    char_start    integer not null,
    char_end      integer not null,
    -- Markdown/HTML headings enclosing the chunk, outermost first; `section` is the same
    -- joined with ' / ', weighted above the body in the search vector.
    heading_path  jsonb not null default '[]',
    section       text not null default '',
    metadata      jsonb not null default '{}',
    search        tsvector generated always as (
        setweight(to_tsvector('english', section), 'A') ||
        setweight(to_tsvector('english', content), 'B')
    ) stored,
    constraint chunks_pkey primary key (document_id, chunk_index),
    constraint chunks_document_fkey foreign key (document_id)
        references knowledge.documents (id) on delete cascade
);
-- Lexical retrieval: matches through the GIN index, restricted to the collection (bitmap AND).
create index chunks_search_idx on knowledge.chunks using gin (search);
create index chunks_collection_idx on knowledge.chunks (collection_id);
-- Metadata filters (`@>`).
create index chunks_metadata_idx on knowledge.chunks using gin (metadata jsonb_path_ops);
