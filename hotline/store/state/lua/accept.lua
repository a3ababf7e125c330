-- ARGV[3] = agent id, ARGV[4] = contact id: the claim; checks the offer and the capacity atomically.
local aid, cid = ARGV[3], ARGV[4]
local a = A(aid)
if not a then return fail('unknown_agent') end
local c = C(cid)
if not c then return fail('unknown_contact') end
local mine = false
for _, x in ipairs(offered_list(c)) do if x == aid then mine = true end end
if c.status ~= 'offered' or not mine or a.offer ~= cid then return fail('not_offered') end
local ch = c.channel
local ld = load(a, ch) + 1
local over = ld - (a._cap[ch] or 0)
local seen = tonumber(redis.call('HGET', K_STATS, 'max_over') or '-1000000000')
if over > seen then redis.call('HSET', K_STATS, 'max_over', over) end
if over > 0 then return fail('over_capacity') end
withdraw_all(c, aid)
redis.call('ZREM', K_DO, cid .. '|' .. aid)
dequeue(c)
set(c, 'status', 'active')
set(c, 'agent_id', aid)
set(c, 'offered_to', nil)
if not c.answered_at then set(c, 'answered_at', NOW) end
set(a, 'offer', nil)
set(a, 'offer_exp', nil)
set(a, 'missed', 0)
set(a, 'l:' .. ch, ld)
redis.call('SADD', K2('ac', aid), cid)
redis.call('HINCRBY', K_STATS, 'accepts', 1)
ev('accepted', c, aid, {waited_s = NOW - tonumber(c.enqueued_at)})
repool(a)
touch(a)
return reply(c)
