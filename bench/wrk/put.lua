-- wrk script: PUT a fixed body to the URL given on the command line.
--
-- Used by bench/server_bench.sh with a presigned PUT URL. A presigned URL
-- signs the path (and here only the Host header), so every request
-- overwrites the same key: this measures the whole PUT path (SigV4 check,
-- encryption, fsync, catalog commit) with last-writer-wins on one object.
--
-- The body is the content of the file named by WRK_BODY_FILE; without it,
-- 4096 bytes of fixed pseudo-random data. wrk adds Content-Length itself.
-- No response() callback: wrk's own "Non-2xx or 3xx responses" line counts
-- failures, and a Lua callback per response would cost client CPU on a
-- small machine where wrk competes with the server.
--
--   WRK_BODY_FILE=/tmp/o4k wrk -t2 -c16 -d15s --latency -s bench/wrk/put.lua "$PRESIGNED_PUT_URL"

local body
local path = os.getenv("WRK_BODY_FILE")
if path and path ~= "" then
  local f = assert(io.open(path, "rb"))
  body = f:read("*a")
  f:close()
else
  local t = {}
  math.randomseed(42)
  for i = 1, 4096 do t[i] = string.char(math.random(0, 255)) end
  body = table.concat(t)
end

wrk.method = "PUT"
wrk.body = body
wrk.headers["Content-Type"] = "application/octet-stream"
