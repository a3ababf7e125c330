-- ARGV[3] = agent id, ARGV[4] = contact id, ARGV[5] = code, ARGV[6] = notes.
local a = A(ARGV[3])
if not a then return fail('unknown_agent') end
local c = C(ARGV[4])
if not c then return fail('unknown_contact') end
if c.agent_id ~= ARGV[3] or (c.status ~= 'active' and c.status ~= 'wrap_up') then return fail('not_in_wrap_up') end
if c.status == 'active' then
  finish(c, a)
  redis.call('ZADD', K_DW, NOW + qcfg(c.queue).wrap, c.contact_id)
end
if c.status == 'wrap_up' then end_wrap(c, a, ARGV[5], ARGV[6]) end
return reply(c)
