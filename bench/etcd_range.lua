-- wrk script: linearizable GET through etcd's v3 JSON gateway
-- (POST /v3/kv/range without "serializable", so every read goes through
-- etcd's ReadIndex, like a raftkv GET).
--
--   wrk -t2 -c50 -d10s -s bench/etcd_range.lua http://127.0.0.1:PORT/v3/kv/range \
--       -- [KEYSPACE]
--
-- Reads random keys "key:%012d" in [0, KEYSPACE) (default 1000), which
-- bench/cluster.sh writes beforehand, so every read returns a value. Request
-- bodies are built once in init() to keep the load generator's CPU low.

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

-- setup() runs in a separate environment, once per thread: number the
-- threads so that each seeds its generator differently.
local threads = 0
function setup(thread)
    thread:set("tid", threads)
    threads = threads + 1
end

local reqs, nreqs

function init(args)
    local keyspace = tonumber(args[1]) or 1000
    local headers = { ["Content-Type"] = "application/json" }
    reqs, nreqs = {}, keyspace
    for i = 0, keyspace - 1 do
        reqs[i + 1] = wrk.format("POST", nil, headers,
            '{"key":"' .. b64(string.format("key:%012d", i)) .. '"}')
    end
    math.randomseed(os.time() * 64 + tid)
end

function request()
    return reqs[math.random(nreqs)]
end
