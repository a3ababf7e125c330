-- ARGV[3] = what: "rank" (ARGV[4] contact id), "waiting" (ARGV[4] queue), "queue" (ARGV[4] queue).
local what, arg = ARGV[3], ARGV[4]
if what == 'rank' then
  local c = C(arg)
  if not c or c.status ~= 'waiting' then return false end
  local s = tonumber(c.score)
  local n = 1
  for _, suf in ipairs(redis.call('SMEMBERS', K('wk', c.queue))) do
    local _, ch, lang, step = string.match(suf, '^([^|]*)|([^|]*)|([^|]*)|(%d+)$')
    local key = K('w', c.queue, ch, lang, step)
    n = n + redis.call('ZCOUNT', key, '-inf', '(' .. c.score)
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', key, c.score, c.score)) do
      if m < c.m then n = n + 1 end
    end
  end
  return n
elseif what == 'waiting' then
  local out = {}
  for _, suf in ipairs(redis.call('SMEMBERS', K('wk', arg))) do
    local _, ch, lang, step = string.match(suf, '^([^|]*)|([^|]*)|([^|]*)|(%d+)$')
    for _, x in ipairs(redis.call('ZRANGE', K('w', arg, ch, lang, step), 0, -1, 'WITHSCORES')) do
      out[#out + 1] = x
    end
  end
  return out
else
  local waiting = 0
  for _, suf in ipairs(redis.call('SMEMBERS', K('wk', arg))) do
    local _, ch, lang, step = string.match(suf, '^([^|]*)|([^|]*)|([^|]*)|(%d+)$')
    waiting = waiting + redis.call('ZCARD', K('w', arg, ch, lang, step))
  end
  local oldest = redis.call('ZRANGE', K('qd', arg), 0, 0, 'WITHSCORES')
  return {waiting, redis.call('ZCARD', K('qd', arg)), oldest[2] or '', redis.call('HGET', K('aht'), arg) or '',
          redis.call('HGETALL', K('st', arg)), redis.call('SMEMBERS', K('mb', arg))}
end
