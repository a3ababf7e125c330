-- ARGV[3] = JSON of the contact's fields (strings); the contact waits, or is refused when its queue is full.
local rec = cjson.decode(ARGV[3])
local key = K2('c', rec.contact_id)
if redis.call('EXISTS', key) == 1 then
  local r = reply(C(rec.contact_id)); r[1] = 'dup'; return r
end
local qp = qcfg(rec.queue)
local fields = {}
for k, v in pairs(rec) do fields[#fields + 1] = k; fields[#fields + 1] = v end
redis.call('HSET', key, unpack(fields))
local c = C(rec.contact_id)
if redis.call('ZCARD', K2('qd', rec.queue)) >= qp.max_length then
  retire(c, 'refused')
  ev('refused', c, nil, {max_length = qp.max_length})
  return reply(c)
end
local seq = redis.call('INCR', K_SEQ)
set(c, 'm', string.format('%012d:%s', seq, rec.contact_id))
ev('enqueued', c, nil, {tier = c.tier, urgent = c.urgent == '1'})
place(c)
return reply(c)
