//! The Lua scripts the Redis session store runs, each one atomic step on
//! the server. Keys and arguments are listed above each.

/// Extends a claim only for its holder: `KEYS[1]` the claim, `ARGV[1]` the
/// owner value, `ARGV[2]` the new lifetime in ms. 1 if extended.
pub(super) const RENEW_CLAIM: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Deletes a claim only for its holder (`ARGV[1]`). 1 if deleted.
pub(super) const RELEASE_CLAIM: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Reclaims expired reservations, then inserts an image unless the hash
/// holds `max_images` entries or the uploader `max_pending` unregistered
/// ones. ARGV: id, max_images, json, ttl_ms, now_ms, reservation_ttl_ms,
/// max_pending, uploader ('' for the desktop). Returns 1, 0 (full) or 2
/// (too many pending). A record that does not decode is kept and counted.
pub(super) const RESERVE_IMAGE: &str = r"
local now = tonumber(ARGV[5])
local reservation_ttl = tonumber(ARGV[6])
local uploader = ARGV[8]
local all = redis.call('HGETALL', KEYS[1])
local count, pending = 0, 0
for i = 1, #all, 2 do
  local ok, r = pcall(cjson.decode, all[i + 1])
  local unregistered = ok and type(r) == 'table' and (r.uploaded_at == nil or r.uploaded_at == cjson.null)
  if unregistered and (tonumber(r.created_ms) or 0) + reservation_ttl < now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    count = count + 1
    if unregistered and uploader ~= '' and r.uploader == uploader then pending = pending + 1 end
  end
end
if count >= tonumber(ARGV[2]) then return 0 end
if uploader ~= '' and pending >= tonumber(ARGV[7]) then return 2 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
";

/// Replaces a hash field only if its record still has the expected
/// `version` (absent reads as 0). ARGV: id, expected version, next json
/// (already carrying the next version).
pub(super) const COMPARE_AND_SET: &str = r"
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if not stored then return 0 end
local ok, r = pcall(cjson.decode, stored)
if not ok or type(r) ~= 'table' then return 0 end
if (tonumber(r.version) or 0) ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
";

/// Appends a filing's audit record (score: Unix ms) and drops filings
/// older than the retention, keeping at most `max`. `KEYS[2]` counts
/// filings: each member is the count (16 hex digits) then the JSON, so two
/// filings in one millisecond keep their order, and two alike are both
/// kept. ARGV: now_ms, cutoff_ms, json, max.
pub(super) const APPEND_AUDIT: &str = r"
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]), string.format('%016x', seq) .. ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[4]) + 1))
return 1
";

/// Aggregates a refused filing: `KEYS[1]` the aggregates (hash by key),
/// `KEYS[2]` their keys scored by latest attempt. ARGV: now_ms, cutoff_ms,
/// key, json (the attempt, `attempts` 1), max. The stored record is the
/// latest attempt with `attempts` counted up and the first's `firstAt`.
/// Aggregates older than the cutoff go, then the oldest past `max`.
pub(super) const APPEND_REFUSAL: &str = r"
local record = cjson.decode(ARGV[4])
local earlier = redis.call('HGET', KEYS[1], ARGV[3])
if earlier then
  local ok, e = pcall(cjson.decode, earlier)
  if ok and type(e) == 'table' then
    record.attempts = (tonumber(e.attempts) or 1) + 1
    if type(e.firstAt) == 'string' then record.firstAt = e.firstAt end
  end
end
redis.call('HSET', KEYS[1], ARGV[3], cjson.encode(record))
redis.call('ZADD', KEYS[2], tonumber(ARGV[1]), ARGV[3])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2])
for _, k in ipairs(expired) do redis.call('HDEL', KEYS[1], k) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if over > 0 then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, over - 1)
  for _, k in ipairs(oldest) do redis.call('HDEL', KEYS[1], k) end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
return 1
";

/// A phone opens a link: `KEYS[1]` the link's set of phone ids. ARGV: the
/// presented id ('' for none), a fresh id, the most phones, ttl_ms.
/// Returns {1, n} for a phone the link holds, {2, n} when the fresh id
/// joined, {0, n} when the link is full; n is the phones held.
pub(super) const JOIN_PHONE: &str = r"
if ARGV[1] ~= '' and redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {1, redis.call('SCARD', KEYS[1])}
end
local n = redis.call('SCARD', KEYS[1])
if n >= tonumber(ARGV[3]) then return {0, n} end
redis.call('SADD', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {2, n + 1}
";
