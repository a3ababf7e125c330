-- ARGV[3] = contact id, ARGV[4] = number: called back later, keeping its place.
local c = C(ARGV[3])
if not c then return fail('unknown_contact') end
if c.status ~= 'waiting' and c.status ~= 'offered' then return fail('not_waiting') end
if c.status == 'waiting' then unplace(c) end
withdraw_all(c, nil)
dequeue(c)
set(c, 'channel', 'callback')
set(c, 'callback_number', ARGV[4])
ev('callback_requested', c, nil, {number = ARGV[4]})
place(c)
return reply(c)
