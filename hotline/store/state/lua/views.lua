-- ARGV[3] = what: "rank" (ARGV[4] contact id), "waiting" (ARGV[4] queue), "queue" (ARGV[4] queue).
local what, arg = ARGV[3], ARGV[4]
local function queue_lists(q)   -- the waiting lists of a queue
  local out = {}
  for _, suf in ipairs(redis.call('SMEMBERS', K_WALL)) do
    if string.sub(suf, 1, #q + 1) == q .. ':' then out[#out + 1] = P .. ':w:' .. suf end
  end
  return out
end
if what == 'rank' then
  local c = C(arg)
  if not c or c.status ~= 'waiting' then return false end
  local s = tonumber(c.score)
  local n = 1
  for _, key in ipairs(queue_lists(c.queue)) do
    n = n + redis.call('ZCOUNT', key, '-inf', '(' .. c.score)
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', key, c.score, c.score)) do
      if m < c.m then n = n + 1 end
    end
  end
  return n
elseif what == 'waiting' then
  local out = {}
  for _, key in ipairs(queue_lists(arg)) do
    for _, x in ipairs(redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')) do
      out[#out + 1] = x
    end
  end
  return out
else
  local waiting = 0
  for _, key in ipairs(queue_lists(arg)) do
    waiting = waiting + redis.call('ZCARD', key)
  end
  local oldest = redis.call('ZRANGE', K2('qd', arg), 0, 0, 'WITHSCORES')
  return {waiting, redis.call('ZCARD', K2('qd', arg)), oldest[2] or '', redis.call('HGET', K_AHT, arg) or '',
          redis.call('HGETALL', K2('st', arg)), redis.call('SMEMBERS', K2('mb', arg))}
end
