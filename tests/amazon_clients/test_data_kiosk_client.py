"""DataKioskClient over httpx.MockTransport: create → poll → download, no data, FATAL, expired URL, resume,
reuse via getQueries, pagination of results, 403 without the Brand Analytics role, the factory."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from amazon_fakes import ACCESS_TOKEN, S3_BASE, FakeAmazon, SleepRecorder, json_response, make_http

from chalkola_pipelines.amazon.credentials import LwaCredentials
from chalkola_pipelines.amazon.data_kiosk import OPERATIONS, DataKioskClient, data_kiosk_client
from chalkola_pipelines.amazon.data_kiosk_queries import sales_traffic_by_date_query
from chalkola_pipelines.amazon.endpoints import AmazonEndpoints
from chalkola_pipelines.amazon.errors import (
    AmazonApiError,
    DataKioskAccessDeniedError,
    DataKioskQueryFatalError,
    DocumentExpiredError,
)
from chalkola_pipelines.amazon.lwa import clear_token_cache
from chalkola_pipelines.amazon.token_buckets import InMemoryRateLimiter
from chalkola_pipelines.amazon.usage_plans import SP_API_USAGE_PLANS, usage_plan

Q = r"/dataKiosk/2023-11-15/queries"
D = r"/dataKiosk/2023-11-15/documents"
QUERY = sales_traffic_by_date_query(date(2026, 11, 1), date(2026, 11, 3), ["A1F83G8C2ARO7P"])
NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
JSONL = b'{"startDate":"2026-11-01","endDate":"2026-11-01","marketplaceId":"A1F83G8C2ARO7P"}\n'
MODEL = "tests/amazon_models/models/data-kiosk-api-model/dataKiosk_2023-11-15.json"


def query_obj(status: str, query_id: str = "q-1", text: str = QUERY.text, **extra) -> dict:
    body = {
        "queryId": query_id,
        "query": text,
        "processingStatus": status,
        "createdTime": "2026-11-05T11:00:00Z",
    }
    body.update(extra)
    return body


def document(doc_id: str = "doc-1", sig: str = "SIG1") -> dict:
    return {"documentId": doc_id, "documentUrl": f"{S3_BASE}/{doc_id}?X-Amz-Signature={sig}"}


def fake_for(
    *polls: dict, listing: list[dict] | None = None, body: bytes = JSONL, gz: bool = False
) -> FakeAmazon:
    fake = FakeAmazon()
    fake.on("GET", Q + r"\?", json_response(200, {"queries": listing or []}))
    fake.on("POST", Q + "$", json_response(202, {"queryId": "q-1"}, request_id="rid-create"))
    fake.on("GET", Q + "/q-1$", *[json_response(200, p) for p in polls])
    fake.on("GET", D + "/doc-1$", json_response(200, document()))
    headers = {"Content-Encoding": "gzip"} if gz else {}
    content = gzip.compress(body) if gz else body
    # a responder, not a Response: FakeAmazon would copy a Response's *decoded* content
    fake.on(
        "GET",
        r"^https://tortuga",
        lambda _request: httpx.Response(
            200, stream=httpx.ByteStream(content), headers={**headers, "Content-Length": str(len(content))}
        ),
    )
    return fake


def client(fake: FakeAmazon, sleep: SleepRecorder | None = None, **kw) -> DataKioskClient:
    kw.setdefault("now", lambda: NOW)
    return DataKioskClient(make_http(fake, sleep=sleep), poll_initial_seconds=2, poll_max_seconds=10, **kw)


def params(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(str(request.url)).query))


def test_create_poll_done_download(tmp_path):
    fake = fake_for(
        query_obj("IN_QUEUE"), query_obj("IN_PROGRESS"), query_obj("DONE", dataDocumentId="doc-1"), gz=True
    )
    seen: list[tuple[str, str]] = []
    sleep = SleepRecorder()
    result = client(fake, sleep).fetch(
        QUERY, lambda qid: tmp_path / f"{qid}.jsonl.gz", on_query_id=lambda q, s: seen.append((q, s))
    )
    assert (result.query_id, result.phase, result.document_id) == ("q-1", "done", "doc-1")
    assert result.path == tmp_path / "q-1.jsonl.gz"
    assert gzip.decompress(result.path.read_bytes()) == JSONL  # archived as received
    assert result.compression == "GZIP" and result.next_token is None and result.query is QUERY
    assert "rid-create" in result.request_ids
    assert seen == [("q-1", "IN_QUEUE"), ("q-1", "IN_PROGRESS"), ("q-1", "DONE")]
    assert sleep.sleeps == pytest.approx([2.0, 3.0])
    assert json.loads(fake.calls("POST", Q + "$")[0].content) == {"query": QUERY.text}
    listing = params(fake.calls("GET", Q + r"\?")[0])
    assert listing["processingStatuses"] == "IN_QUEUE,IN_PROGRESS,DONE" and listing["pageSize"] == "100"
    assert listing["createdSince"] == "2026-11-04T12:00:00Z"
    s3 = fake.calls("GET", r"^https://tortuga")[0]
    assert "x-amz-access-token" not in s3.headers


def test_done_without_data_document_is_no_data(tmp_path):
    fake = fake_for(query_obj("IN_PROGRESS"), query_obj("DONE"))
    result = client(fake).fetch(QUERY, tmp_path / "x.jsonl")
    assert result.phase == "no_data" and result.path is None and result.document_id is None
    assert fake.calls("GET", D) == [] and not (tmp_path / "x.jsonl").exists()


def test_fatal_raises_with_the_error_document_text(tmp_path):
    fake = fake_for(query_obj("IN_PROGRESS"), query_obj("FATAL", errorDocumentId="doc-1"))
    fake.routes[-1] = type(fake.routes[-1])(
        "GET",
        fake.routes[-1].pattern,
        [httpx.Response(200, content=b'{"errorMessage":"startDate is more than two years ago"}')],
    )
    with pytest.raises(DataKioskQueryFatalError) as info:
        client(fake).fetch(QUERY, tmp_path / "x.jsonl")
    err = info.value
    assert err.query_id == "q-1" and err.status == "FATAL"
    assert "startDate is more than two years ago" in str(err) and "q-1" in str(err)
    assert "by_date" in str(err) and "2026-11-01..2026-11-03" in str(err)
    assert not (tmp_path / "x.jsonl").exists()


def test_fatal_without_error_document_and_cancelled(tmp_path):
    for status, words in (("FATAL", "no error document"), ("CANCELLED", "cancelled before")):
        fake = fake_for(query_obj(status))
        with pytest.raises(DataKioskQueryFatalError, match=words):
            client(fake).fetch(QUERY, tmp_path / "x.jsonl")


def test_expired_document_url_is_fetched_again(tmp_path):
    fake = fake_for(query_obj("DONE", dataDocumentId="doc-1"))
    fake.routes[3] = type(fake.routes[3])(
        "GET",
        fake.routes[3].pattern,
        [json_response(200, document(sig="OLD")), json_response(200, document(sig="NEW"))],
    )
    fake.routes[-1] = type(fake.routes[-1])(
        "GET",
        fake.routes[-1].pattern,
        [
            httpx.Response(403, content=b"<Error>Request has expired</Error>"),
            httpx.Response(200, content=JSONL),
        ],
    )
    result = client(fake).fetch(QUERY, tmp_path / "x.jsonl")
    assert result.path.read_bytes() == JSONL
    assert len(fake.calls("GET", D)) == 2
    assert "X-Amz-Signature=NEW" in str(fake.calls("GET", r"^https://tortuga")[-1].url)


def test_url_refused_every_time_gives_up_with_a_clear_error(tmp_path):
    fake = fake_for(query_obj("DONE", dataDocumentId="doc-1"))
    fake.routes[-1] = type(fake.routes[-1])("GET", fake.routes[-1].pattern, [httpx.Response(403)])
    with pytest.raises(DocumentExpiredError, match="doc-1 of Data Kiosk query q-1") as info:
        client(fake).fetch(QUERY, tmp_path / "x.jsonl")
    assert "SIG1" not in str(info.value)


def test_resume_by_id_neither_lists_nor_creates(tmp_path):
    fake = fake_for(query_obj("IN_PROGRESS"), query_obj("DONE", dataDocumentId="doc-1"))
    seen: list[tuple[str, str]] = []
    result = client(fake).fetch(
        QUERY, tmp_path / "x.jsonl", resume_query_id="q-1", on_query_id=lambda q, s: seen.append((q, s))
    )
    assert result.phase == "done"
    assert fake.calls("POST", Q) == [] and fake.calls("GET", Q + r"\?") == []
    assert seen == [("q-1", "IN_PROGRESS"), ("q-1", "DONE")]


def test_resuming_a_fatal_or_unknown_query_creates_a_new_one(tmp_path):
    fake = fake_for(query_obj("DONE", dataDocumentId="doc-1"))
    fake.on("GET", Q + "/q-old$", json_response(200, query_obj("FATAL", "q-old", errorDocumentId="e")))
    fake.on("GET", Q + "/q-gone$", json_response(404, {"errors": [{"code": "NotFound", "message": "gone"}]}))
    for old in ("q-old", "q-gone"):
        result = client(fake).fetch(QUERY, tmp_path / f"{old}.jsonl", resume_query_id=old)
        assert result.query_id == "q-1"
    assert len(fake.calls("POST", Q + "$")) == 2


def test_reuse_an_identical_in_flight_query_found_on_the_second_page(tmp_path):
    fake = fake_for(query_obj("DONE", "q-1", dataDocumentId="doc-1"))
    fake.routes[0] = type(fake.routes[0])(
        "GET",
        fake.routes[0].pattern,
        [
            json_response(
                200,
                {
                    "queries": [query_obj("IN_PROGRESS", "q-other", text=QUERY.text + " ")],
                    "pagination": {"nextToken": "p2"},
                },
            ),
            json_response(200, {"queries": [query_obj("IN_QUEUE", "q-1")]}),
        ],
    )
    result = client(fake).fetch(QUERY, tmp_path / "x.jsonl")
    assert result.query_id == "q-1"
    assert fake.calls("POST", Q) == []
    first, second = fake.calls("GET", Q + r"\?")
    assert params(second)["paginationToken"] == "p2"
    assert params(second)["processingStatuses"] == params(first)["processingStatuses"]  # same filters


def test_reuse_of_done_queries_only_when_recent(tmp_path):
    recent = query_obj("DONE", "q-1", createdTime="2026-11-05T06:00:00Z", dataDocumentId="doc-1")
    older = query_obj("DONE", "q-older", createdTime="2026-11-05T01:00:00Z", dataDocumentId="doc-9")
    stale = query_obj("DONE", "q-stale", createdTime="2026-11-04T20:00:00Z", dataDocumentId="doc-8")
    fake = fake_for(recent, listing=[stale, older, recent])
    result = client(fake).fetch(QUERY, tmp_path / "x.jsonl")
    assert result.query_id == "q-1" and fake.calls("POST", Q) == []  # the newest DONE within 12 h
    fake = fake_for(recent, listing=[stale])
    assert client(fake).fetch(QUERY, tmp_path / "y.jsonl").query_id == "q-1"
    assert len(fake.calls("POST", Q + "$")) == 1  # the stale one was not reused
    fake = fake_for(recent, listing=[recent])
    client(fake, reuse_done_within=None).fetch(QUERY, tmp_path / "z.jsonl")
    assert len(fake.calls("POST", Q + "$")) == 1
    assert params(fake.calls("GET", Q + r"\?")[0])["processingStatuses"] == "IN_QUEUE,IN_PROGRESS"
    fake = fake_for(recent, listing=[recent])
    client(fake, reuse=False).fetch(QUERY, tmp_path / "w.jsonl")
    assert fake.calls("GET", Q + r"\?") == [] and len(fake.calls("POST", Q + "$")) == 1


def test_result_pages_follow_the_next_token(tmp_path):
    fake = FakeAmazon()
    fake.on("GET", Q + r"\?", json_response(200, {"queries": []}))
    fake.on("POST", Q + "$", json_response(202, {"queryId": "q-1"}), json_response(202, {"queryId": "q-2"}))
    fake.on(
        "GET",
        Q + "/q-1$",
        json_response(200, query_obj("DONE", dataDocumentId="doc-1", pagination={"nextToken": "page-2"})),
    )
    fake.on("GET", Q + "/q-2$", json_response(200, query_obj("DONE", "q-2", dataDocumentId="doc-1")))
    fake.on("GET", D + "/doc-1$", json_response(200, document()))
    fake.on("GET", r"^https://tortuga", httpx.Response(200, content=JSONL))
    results = client(fake).fetch_pages(QUERY, lambda qid: tmp_path / f"{qid}.jsonl")
    assert [(r.query_id, r.next_token) for r in results] == [("q-1", "page-2"), ("q-2", None)]
    bodies = [json.loads(r.content) for r in fake.calls("POST", Q + "$")]
    assert bodies == [{"query": QUERY.text}, {"query": QUERY.text, "paginationToken": "page-2"}]
    assert len(fake.calls("GET", Q + r"\?")) == 1  # later pages are never matched by text
    # resume page 1 from the ledger, create page 2
    fake.routes[1].hits = 1
    results = client(fake).fetch_pages(
        QUERY, lambda qid: tmp_path / f"r{qid}.jsonl", resume_query_ids=("q-1",)
    )
    assert [r.query_id for r in results] == ["q-1", "q-2"]


@pytest.mark.parametrize(
    ("where", "status"), [("createQuery", 403), ("getQueries", 403), ("createQuery", 401)]
)
def test_403_means_the_brand_analytics_role_is_missing(tmp_path, where, status):
    fake = fake_for(query_obj("DONE"))
    denied = json_response(
        status,
        {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]},
        request_id="rid-403",
    )
    index = 1 if where == "createQuery" else 0
    fake.routes[index] = type(fake.routes[index])(
        fake.routes[index].method, fake.routes[index].pattern, [denied]
    )
    with pytest.raises(DataKioskAccessDeniedError) as info:
        client(fake).fetch(QUERY, tmp_path / "x.jsonl")
    err = info.value
    message = str(err)
    assert isinstance(err, AmazonApiError) and err.status_code == status and err.operation == where
    assert "\n" not in message
    assert "Brand Analytics role" in message and "re-authorise" in message and "fall back" in message
    assert "rid-403" in message and ACCESS_TOKEN not in message
    # one token refresh, then the verdict
    assert (
        len(
            fake.calls(
                "POST" if where == "createQuery" else "GET", Q + ("$" if where == "createQuery" else r"\?")
            )
        )
        == 2
    )


def test_cancel_query_and_other_errors_pass_through():
    fake = FakeAmazon()
    fake.on("DELETE", Q + "/q-1$", httpx.Response(204))
    fake.on(
        "GET", Q + "/q-9$", json_response(400, {"errors": [{"code": "InvalidInput", "message": "bad id"}]})
    )
    dk = client(fake)
    ids: list[str] = []
    dk.cancel_query("q-1", ids)
    with pytest.raises(AmazonApiError, match="InvalidInput") as info:
        dk.get_query("q-9")
    assert not isinstance(info.value, DataKioskAccessDeniedError)


def test_factory_uses_the_sp_api_host_token_and_usage_plan_buckets():
    clear_token_cache()
    fake = FakeAmazon()
    fake.on("POST", r"/auth/o2/token$", json_response(200, {"access_token": "Atza|dk", "expires_in": 3600}))
    fake.on("POST", Q + "$", json_response(202, {"queryId": "q-7"}))
    limiter = InMemoryRateLimiter()
    dk = data_kiosk_client(
        "na",
        LwaCredentials("sp-client", "sp-secret", "Atzr|sp-na"),
        endpoints=AmazonEndpoints.production(),
        rate_limiter=limiter,
        client=httpx.Client(transport=fake.transport()),
        poll_initial_seconds=1,
    )
    assert dk.poll_initial_seconds == 1
    assert dk.create_query(QUERY.text) == "q-7"
    call = fake.requests[-1]
    assert str(call.url) == "https://sellingpartnerapi-na.amazon.com/dataKiosk/2023-11-15/queries"
    assert call.headers["x-amz-access-token"] == "Atza|dk"
    assert limiter.tokens("sp:na:createQuery") is not None
    clear_token_cache()


def test_operation_names_are_the_models_usage_plans():
    model = json.load(open(MODEL))
    ops = {
        op["operationId"]: op
        for path in model["paths"].values()
        for op in path.values()
        if isinstance(op, dict) and "operationId" in op
    }
    assert set(OPERATIONS) == set(ops)
    missing = [name for name in OPERATIONS if name not in SP_API_USAGE_PLANS]
    if missing:
        pytest.skip(
            f"usage_plans.py has no Data Kiosk plans yet ({', '.join(missing)}): the simulator engineer adds them"
        )
    for name in OPERATIONS:
        table = ops[name]["description"].split("| ---- | ---- |")[1].split("|")
        rate, burst = float(table[1]), int(table[2])
        assert tuple(usage_plan("sp", name)) == (rate, burst), name
