-- wrk script for bench/run: sets the request from the environment and writes a JSON summary.
wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body ~= nil and body ~= "" then
  wrk.body = body
end
local ctype = os.getenv("WRK_CONTENT_TYPE")
if ctype ~= nil and ctype ~= "" then
  wrk.headers["Content-Type"] = ctype
end

done = function(summary, latency, requests)
  local e = summary.errors
  local out = os.getenv("WRK_OUT")
  local f = out and io.open(out, "w") or io.stdout
  f:write(string.format(
    '{"duration_us": %d, "requests": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, "latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.duration, summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
  if out then f:close() end
end
