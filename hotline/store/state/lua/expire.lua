-- ARGV[3] = limit per kind: offer timeouts, wrap-up ends, overflow steps, ended cool-downs.
local limit = tonumber(ARGV[3])
local g = gcfg()
for _, key in ipairs(redis.call('ZRANGEBYSCORE', K_DO, '-inf', NOW, 'LIMIT', 0, limit)) do
  local cid, aid = string.match(key, '^(.*)|(.*)$')
  local c = C(cid)
  local a = A(aid)
  local missed = NULL
  if a then
    missed = num(a.missed, 0) + 1
    set(a, 'missed', missed)
  end
  if c then back(c, aid, 'offer_timeout', {missed = missed}) else redis.call('ZREM', K_DO, key) end
  if a then
    a = A(aid)
    if num(a.missed, 0) >= g.max_missed and a.presence == 'available' then
      leave(a, 'break', 'missed_offers')
      repool(a)
      touch(a)
    end
  end
end
for _, cid in ipairs(redis.call('ZRANGEBYSCORE', K_DW, '-inf', NOW, 'LIMIT', 0, limit)) do
  local c = C(cid)
  if c and c.agent_id then end_wrap(c, A(c.agent_id), 'timeout', '') else redis.call('ZREM', K_DW, cid) end
end
for _, cid in ipairs(redis.call('ZRANGEBYSCORE', K_DV, '-inf', NOW, 'LIMIT', 0, limit)) do
  local c = C(cid)
  if c then
    unplace(c)
    place(c)
  else
    redis.call('ZREM', K_DV, cid)
  end
end
for _, cid in ipairs(redis.call('ZRANGEBYSCORE', K_DK, '-inf', NOW, 'LIMIT', 0, limit)) do
  redis.call('ZREM', K_DK, cid)
  local dkey = K2('cd', cid)
  local d = redis.call('HGETALL', dkey)
  local nextt = nil
  for i = 1, #d, 2 do
    local u = tonumber(d[i + 1])
    if u <= NOW then
      redis.call('HDEL', dkey, d[i])
      redis.call('DECR', K_NDECL)
    elseif nextt == nil or u < nextt then nextt = u end
  end
  if nextt then redis.call('ZADD', K_DK, nextt, cid) end
  local c = C(cid)
  if c and c.status == 'waiting' then maybe_dirty(c) end
end
return reply(nil)
