-- ARGV[3] = agent id, ARGV[4] = presence, ARGV[5] = reason ('' for none).
local a = A(ARGV[3])
if not a then return fail('unknown_agent') end
local presence = ARGV[4]
local reason = ARGV[5]
if reason == '' then reason = nil end
local old_reason = a.reason
if presence == 'available' and a.presence ~= 'available' then
  set(a, 'missed', 0)
  set(a, 'idle', NOW)
end
leave(a, presence, reason)
repool(a)
if a.state == 'break' and presence == 'break' and old_reason ~= reason then a.state = '' end
touch(a)
return reply(nil)
