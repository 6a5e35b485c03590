-- POST /agents/{id}/execute, synchronous, on an echo agent (no network). Used by `run.sh
-- wrk-execute` and `wrk-matrix.sh execute`; pass the token with -H "Authorization: Bearer $TOKEN".
-- wrk counts non-2xx answers only: it does not check that the execution's status is
-- "completed" (the goose execute-echo scenario does).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"user_message":"hello load test"}'
