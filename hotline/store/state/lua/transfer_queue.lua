-- ARGV[3] = agent id, ARGV[4] = contact id, ARGV[5] = queue, ARGV[6] = score in the new queue.
local a = A(ARGV[3])
if not a then return fail('unknown_agent') end
local c = C(ARGV[4])
if not c then return fail('unknown_contact') end
if c.status ~= 'active' or c.agent_id ~= ARGV[3] then return fail('not_active') end
local q = ARGV[5]
local qp = qcfg(q)
local ch = c.channel
set(a, 'l:' .. ch, load(a, ch) - 1)
redis.call('SREM', K2('ac', a.agent_id), c.contact_id)
set(a, 'idle', NOW)
set(c, 'transfers', num(c.transfers, 0) + 1)
set(c, 'agent_id', nil)
ev('transferred', c, a.agent_id, {to_queue = q})
set(c, 'queue', q)
set(c, 'score', ARGV[6])
set(c, 'queued_at', NOW)
set(c, 'overflow_step', 0)
set(c, 'skill_level_needed', qp.levels[1])
place(c)
repool(a)
touch(a)
return reply(c)
