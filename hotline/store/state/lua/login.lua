-- ARGV[3] = JSON {agent_id, name, skills, r} (skills and r JSON-encoded; r = {m: queue -> [tier,
-- proficiency], c: capacity, l: languages}).
local rec = cjson.decode(ARGV[3])
local aid = rec.agent_id
local a = A(aid)
redis.call('HSET', K2('ap', aid), 'name', rec.name, 'skills', rec.skills)
if a then
  if a.presence == 'available' then staff(a, -1) end
  for q, _ in pairs(a._mem) do redis.call('SREM', K2('mb', q), aid) end
  unpool(a)
  set(a, 'r', rec.r)
  flush()
  a = A(aid, true)
  if a.presence == 'available' then staff(a, 1) end
else
  redis.call('HSET', K2('a', aid), 'agent_id', aid, 'r', rec.r, 'presence', 'offline', 'wrap', 0, 'idle', NOW,
             'since', NOW, 'state', 'offline', 'missed', 0)
  redis.call('SADD', K('agents'), aid)
  a = A(aid, true)
  EV[#EV + 1] = {'agent_state', NULL, aid, NULL, NULL, {state = 'offline', reason = NULL}}
end
for q, _ in pairs(a._mem) do redis.call('SADD', K2('mb', q), aid) end
repool(a)
return reply(nil)
