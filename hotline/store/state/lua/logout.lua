-- ARGV[3] = agent id: refused while a contact is active; wrap-ups end with code "logout".
local aid = ARGV[3]
local a = A(aid)
if not a then return fail('unknown_agent') end
local cids = redis.call('SMEMBERS', K2('ac', aid))
for _, cid in ipairs(cids) do
  if redis.call('HGET', K2('c', cid), 'status') == 'active' then return fail('busy') end
end
for _, cid in ipairs(cids) do end_wrap(C(cid), a, 'logout', '') end
leave(a, 'offline', nil)
unpool(a)
for q, _ in pairs(a._mem) do redis.call('SREM', K2('mb', q), aid) end
flush()
a._gone = true
redis.call('DEL', K2('a', aid), K2('ap', aid), K2('ac', aid), K2('as', aid))
redis.call('SREM', K('agents'), aid)
return reply(nil)
