-- wrk script: PUT through etcd's v3 JSON gateway (POST /v3/kv/put).
--
--   wrk -t2 -c50 -d10s -s bench/etcd_put.lua http://127.0.0.1:PORT/v3/kv/put \
--       -- [KEYSPACE] [VALUE_BYTES]
--
-- Keys are "key:%012d" (the names redis-benchmark -r gives), walked by a
-- per-thread counter interleaved by thread id so that threads do not collide,
-- modulo KEYSPACE (default 100000). The value is VALUE_BYTES (default 32)
-- bytes. Key and value are base64-encoded as the gateway requires.

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64(s)
    local out, n = {}, #s
    for i = 1, n, 3 do
        local a, b, c = s:byte(i, i + 2)
        local v = a * 65536 + (b or 0) * 256 + (c or 0)
        local c1 = math.floor(v / 262144) % 64
        local c2 = math.floor(v / 4096) % 64
        local c3 = math.floor(v / 64) % 64
        local c4 = v % 64
        out[#out + 1] = B64:sub(c1 + 1, c1 + 1) .. B64:sub(c2 + 1, c2 + 1)
            .. (b and B64:sub(c3 + 1, c3 + 1) or "=")
            .. (c and B64:sub(c4 + 1, c4 + 1) or "=")
    end
    return table.concat(out)
end

-- setup() runs in a separate environment, once per thread: number the threads.
local threads = 0
function setup(thread)
    thread:set("tid", threads)
    threads = threads + 1
end

-- Thread t writes keys t, t+64, t+128, ... (mod KEYSPACE): disjoint across
-- threads for any -t up to 64.
local STRIDE = 64
local keyspace, value64, counter
local headers = { ["Content-Type"] = "application/json" }

function init(args)
    keyspace = tonumber(args[1]) or 100000
    local vbytes = tonumber(args[2]) or 32
    value64 = b64(string.rep("x", vbytes))
    counter = 0
end

function request()
    local n = (counter * STRIDE + tid) % keyspace
    counter = counter + 1
    local body = '{"key":"' .. b64(string.format("key:%012d", n)) ..
        '","value":"' .. value64 .. '"}'
    return wrk.format("POST", nil, headers, body)
end
