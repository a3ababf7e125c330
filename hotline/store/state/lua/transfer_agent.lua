-- ARGV[3] = agent id, ARGV[4] = contact id, ARGV[5] = the agent to offer it to (only them).
local a = A(ARGV[3])
if not a then return fail('unknown_agent') end
local c = C(ARGV[4])
if not c then return fail('unknown_contact') end
if c.status ~= 'active' or c.agent_id ~= ARGV[3] then return fail('not_active') end
local b = A(ARGV[5])
if not b then return fail('unknown_agent') end
local ch = c.channel
if ARGV[5] == ARGV[3] or not free(b) or load(b, ch) >= (b._cap[ch] or 0) then return fail('agent_unavailable') end
set(a, 'l:' .. ch, load(a, ch) - 1)
redis.call('SREM', K2('ac', a.agent_id), c.contact_id)
set(a, 'idle', NOW)
set(c, 'transfers', num(c.transfers, 0) + 1)
set(c, 'agent_id', nil)
ev('transferred', c, a.agent_id, {to_agent = ARGV[5]})
redis.call('ZADD', K2('qd', c.queue), c.enqueued_at, c.m)
offer(c, {ARGV[5]})
repool(a)
touch(a)
return reply(c)
