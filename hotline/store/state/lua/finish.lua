-- ARGV[3] = agent id, ARGV[4] = contact id: talk over, wrap-up starts.
local a = A(ARGV[3])
if not a then return fail('unknown_agent') end
local c = C(ARGV[4])
if not c then return fail('unknown_contact') end
if c.status ~= 'active' or c.agent_id ~= ARGV[3] then return fail('not_active') end
do_finish(c, a)
return reply(c)
