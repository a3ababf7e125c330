-- Shared by every routing function (the Redis Functions library built by hotline/store/state/redis.py);
-- mirrors memory.py. ARGV[1] = key prefix, ARGV[2] = now (epoch seconds). Keys (all under the prefix):
--   c:<cid> contact hash      cd:<cid> declined agent -> until      a:<aid> agent hash (routing fields;
--   r = JSON {m: queue -> [tier, proficiency], c: capacity, l: languages})      ap:<aid> name, skills
--   ac:<aid> its contacts      w:<q>:<ch>:<lang>:<step> waiting zset (score, m)      wk set of the
--   (possibly) non-empty waiting lists "<q>:<ch>:<lang>:<step>"      as:<aid> the waiting lists the agent may
--   serve now (its queues from its tier on, channels with room, languages), so SINTER wk as:<aid> is
--   where a freed agent looks
--   qd:<q> queued zset (enqueued_at, m)      p:<q>:<tier>:<ch>:<lang> pool zset (strategy score, aid)
--   da / dc dirty agents (idle, aid) / contacts (score, m)      do / dw / dv / dk due offers ("cid|aid"),
--   wrap-ups, overflow steps, cool-downs (time, cid)      cfg hash (queue -> JSON, _g -> JSON)
--   rr, aht hashes per queue      st:<q> slots per channel      mb:<q> members      agents set      seq   stats
-- The library is loaded once (FUNCTION LOAD): helpers are compiled once and live in the table L; each
-- registered function (one per lua/<name>.lua, see redis.py) first calls L.init(ARGV), which resets the
-- per-call state in the locals below (they are shared by every call, so nothing may survive a call).
local L = {}
local P, NOW
local K_DA, K_DC, K_DO, K_DV, K_DK, K_DW
local K_NDECL, K_STATS, K_AHT
local K_CFG, K_RR, K_SEQ
local K_WALL
local BIG = 1e10
local PEEK = 8
local NULL                  -- cjson.null (cjson is not reachable while the library loads)
local EV, OFFERS, CFG, TOUCHED, CM, AM
local ANY_DECLINED
local CF = {'contact_id', 'queue', 'channel', 'language', 'status', 'score', 'm', 'enqueued_at', 'queued_at',
            'overflow_step', 'offered_to', 'agent_id', 'answered_at', 'transfers', 'tier', 'urgent'}

function L.init(argv)
  P = argv[1]
  NOW = tonumber(argv[2])
  K_DA, K_DC, K_DO, K_DV, K_DK, K_DW = P .. ':da', P .. ':dc', P .. ':do', P .. ':dv', P .. ':dk', P .. ':dw'
  K_NDECL, K_STATS, K_AHT = P .. ':ndecl', P .. ':stats', P .. ':aht'
  K_CFG, K_RR, K_SEQ = P .. ':cfg', P .. ':rr', P .. ':seq'
  K_WALL = P .. ':wk'
  EV, OFFERS, CFG, TOUCHED, CM, AM = {}, {}, {}, {}, {}, {}
  ANY_DECLINED = nil
  NULL = cjson.null
end

function L.K(...)
  return P .. ':' .. table.concat({...}, ':')
end
function L.K2(a, b) return P .. ':' .. a .. ':' .. b end
function L.Kp(q, tier, ch, lang) return P .. ':p:' .. q .. ':' .. tier .. ':' .. ch .. ':' .. lang end

function L.qcfg(q)
  local v = CFG[q]
  if v == nil then
    local raw = redis.call('HGET', K_CFG, q)
    if not raw then return error('routing: unknown queue ' .. tostring(q)) end
    v = cjson.decode(raw)
    CFG[q] = v
  end
  return v
end
function L.gcfg() return L.qcfg('_g') end

function L.hgetall(key)
  local r = redis.call('HGETALL', key)
  if #r == 0 then return nil end
  local t = {}
  for i = 1, #r, 2 do t[r[i]] = r[i + 1] end
  t._k = key
  return t
end

-- Writes to a contact or agent are buffered in its table and flushed once per call (L.flush()).
function L.set(t, f, v)
  t[f] = v
  local d = t._d
  if not d then
    d = {}
    t._d = d
    TOUCHED[#TOUCHED + 1] = t
  end
  d[f] = true
end

function L.flush()
  for _, t in ipairs(TOUCHED) do
    if not t._gone then
      local hs, hd = {}, {}
      for f, _ in pairs(t._d) do
        local v = t[f]
        if v == nil then hd[#hd + 1] = f else hs[#hs + 1] = f; hs[#hs + 1] = v end
      end
      if #hs > 0 then redis.call('HSET', t._k, unpack(hs)) end
      if #hd > 0 then redis.call('HDEL', t._k, unpack(hd)) end
    end
    t._d = nil
  end
  TOUCHED = {}
end

function L.num(v, d) if not v or v == '' then return d end return tonumber(v) end

-- Contacts and agents are read once per call and kept: every write goes through L.set(), which
-- updates the kept table too. A contact is read without its context (which may be long).
function L.C(cid)
  local c = CM[cid]
  if c then return c end
  local key = L.K2('c', cid)
  local r = redis.call('HMGET', key, unpack(CF))
  if not r[1] then return nil end
  c = {_k = key}
  for i, f in ipairs(CF) do if r[i] then c[f] = r[i] end end
  CM[cid] = c
  return c
end
function L.A(aid, fresh)
  local a = AM[aid]
  if a and not fresh then return a end
  a = L.hgetall(L.K2('a', aid))
  if a then
    local r = cjson.decode(a.r)
    a._mem, a._cap, a._langs = r.m, r.c, r.l
  end
  AM[aid] = a
  return a
end

function L.ev(kind, c, aid, data, queue)
  EV[#EV + 1] = {kind, c and c.contact_id or NULL, aid or NULL, c and c.queue or queue or NULL,
                 c and c.channel or NULL, data or {}}
end

-- ---------------------------------------------------------------------------------- agents' state
function L.load(a, ch) return L.num(a['l:' .. ch], 0) end
function L.ncontacts(a) return redis.call('SCARD', L.K2('ac', a.agent_id)) end

function L.state_of(a)
  if L.num(a.wrap, 0) > 0 then return 'wrap_up' end
  if L.ncontacts(a) > 0 then return 'busy' end
  if a.offer then return 'offered' end
  return a.presence
end

function L.touch(a)
  local st = L.state_of(a)
  if st ~= a.state then
    L.set(a, 'state', st)
    L.set(a, 'since', NOW)
    local reason = NULL
    if st == 'break' and a.reason then reason = a.reason end
    EV[#EV + 1] = {'agent_state', NULL, a.agent_id, NULL, NULL, {state = st, reason = reason}}
  end
end

function L.free(a)
  return a.presence == 'available' and not a.offer and L.num(a.wrap, 0) == 0
end

function L.score_of(a, q, prof)
  local strat = L.qcfg(q).strategy
  if strat == 'best_skill' then return -prof * BIG + L.num(a.idle, 0) end
  if strat == 'fewest_contacts' then
    local total = 0
    for ch, _ in pairs(a._cap) do total = total + L.load(a, ch) end
    return total * BIG + L.num(a.idle, 0)
  end
  if strat == 'round_robin' then return L.num(a['rr:' .. q], 0) end
  return L.num(a.idle, 0)
end

-- pc = the channels the agent was filed under at the last repool (its pools follow from them).
-- keep = channels whose pools repool is about to ZADD again (no need to remove them first).
function L.unpool(a, keep)
  if a.pc then
    for ch in string.gmatch(a.pc, '[^,]+') do
      if not (keep and keep[ch]) then
        for q, mt in pairs(a._mem) do
          for _, lang in ipairs(a._langs) do redis.call('ZREM', L.Kp(q, mt[1], ch, lang), a.agent_id) end
        end
      end
    end
    L.set(a, 'pc', nil)
  end
  redis.call('ZREM', K_DA, a.agent_id)
end

-- An agent that gets an offer stays in its pools (lazy removal: ~10 ZREMs saved per offer); pc is kept,
-- and readers of a pool skip and ZREM members that are not free (L.pool_pick). Every other way out of
-- "free" goes through unpool/repool, so a pool member that is not free is exactly such a stale one.
function L.stale(aid)
  local a = L.A(aid)
  return not a or not L.free(a)
end

-- The first n live members of a pool (stale ones are removed on the way), non-declined ones as
-- {score, aid}; one = stop at the first. Mirrors reading the first n members of a clean pool.
function L.pool_pick(key, cid, n, one)
  while true do
    local r = redis.call('ZRANGE', key, 0, n - 1, 'WITHSCORES')
    local out, live, stale = {}, 0, false
    for i = 1, #r, 2 do
      local aid = r[i]
      if L.stale(aid) then
        redis.call('ZREM', key, aid)
        stale = true
      else
        live = live + 1
        if live > n then break end
        if not L.declined(cid, aid) then
          out[#out + 1] = {tonumber(r[i + 1]), aid}
          if one then return out end
        end
      end
    end
    if not stale or #r < 2 * n then return out end
  end
end

function L.repool(a)
  local chans = {}
  if L.free(a) then
    for ch, cap in pairs(a._cap) do
      if L.load(a, ch) < cap then chans[#chans + 1] = ch end
    end
  end
  local keep = {}
  if next(a._mem) ~= nil then for _, ch in ipairs(chans) do keep[ch] = true end end
  L.unpool(a, keep)
  if not L.free(a) then return end
  if #chans == 0 or next(a._mem) == nil then
    redis.call('DEL', L.K2('as', a.agent_id))
    return
  end
  local serves = {}
  for q, mt in pairs(a._mem) do
    local sc = L.score_of(a, q, mt[2])
    local nsteps = #L.qcfg(q).after
    for _, ch in ipairs(chans) do
      for _, lang in ipairs(a._langs) do
        redis.call('ZADD', L.Kp(q, mt[1], ch, lang), sc, a.agent_id)
        for step = mt[1], nsteps - 1 do serves[#serves + 1] = q .. ':' .. ch .. ':' .. lang .. ':' .. step end
      end
    end
  end
  L.set(a, 'pc', table.concat(chans, ','))
  local akey = L.K2('as', a.agent_id)
  redis.call('DEL', akey)
  redis.call('SADD', akey, unpack(serves))
  -- a decision only if some waiting list it may serve is (possibly) non-empty
  if redis.call('SINTERCARD', 2, K_WALL, akey, 'LIMIT', 1) > 0 then redis.call('ZADD', K_DA, a.idle, a.agent_id) end
end

function L.staff(a, sign)
  for q, _ in pairs(a._mem) do
    for ch, cap in pairs(a._cap) do redis.call('HINCRBY', L.K2('st', q), ch, sign * cap) end
  end
end

-- ------------------------------------------------------------------------------- waiting contacts
function L.offered_list(c)
  local t = {}
  if c.offered_to and c.offered_to ~= '' then
    for x in string.gmatch(c.offered_to, '[^,]+') do t[#t + 1] = x end
  end
  return t
end

function L.wsuffix(c) return c.queue .. ':' .. c.channel .. ':' .. c.language .. ':' .. c.overflow_step end
function L.wkey(c) return P .. ':w:' .. L.wsuffix(c) end

function L.step_at(q, waited)
  local step = 0
  for i, after in ipairs(L.qcfg(q).after) do
    if waited >= after then step = i - 1 end
  end
  return step
end

function L.dirty_contact(c) redis.call('ZADD', K_DC, c.score, c.m) end

-- A placed contact needs a decision only when some agent is free in a pool that accepts it now;
-- otherwise an agent freeing up will find it.
function L.maybe_dirty(c)
  local keys = {}
  for tier = 0, L.num(c.overflow_step, 0) do keys[#keys + 1] = L.Kp(c.queue, tier, c.channel, c.language) end
  if redis.call('EXISTS', unpack(keys)) > 0 then L.dirty_contact(c) end
end

function L.place(c)
  local q = c.queue
  local qp = L.qcfg(q)
  local step = L.step_at(q, NOW - tonumber(c.queued_at))
  if step > L.num(c.overflow_step, 0) then
    L.set(c, 'overflow_step', step)
    L.set(c, 'skill_level_needed', qp.levels[step + 1])
    L.ev('overflowed', c, nil, {step = step, level = qp.levels[step + 1]})
  end
  L.set(c, 'status', 'waiting')
  L.set(c, 'offered_to', nil)
  L.set(c, 'agent_id', nil)
  redis.call('ZADD', L.wkey(c), c.score, c.m)
  redis.call('SADD', K_WALL, L.wsuffix(c))
  redis.call('ZADD', L.K2('qd', q), c.enqueued_at, c.m)
  if step + 2 <= #qp.after then
    redis.call('ZADD', K_DV, tonumber(c.queued_at) + qp.after[step + 2], c.contact_id)
  end
  L.maybe_dirty(c)
end

-- An emptied waiting list stays in wk until a match meets it empty (saves a ZCARD per offer).
function L.unplace(c)
  redis.call('ZREM', L.wkey(c), c.m)
  if L.num(c.overflow_step, 0) + 1 < #L.qcfg(c.queue).after then redis.call('ZREM', K_DV, c.contact_id) end
  redis.call('ZREM', K_DC, c.m)
end

function L.dequeue(c) redis.call('ZREM', L.K2('qd', c.queue), c.m) end

function L.declined(cid, aid)
  if ANY_DECLINED == nil then ANY_DECLINED = L.num(redis.call('GET', K_NDECL), 0) > 0 end
  if not ANY_DECLINED then return false end
  local v = redis.call('HGET', L.K2('cd', cid), aid)
  return v and tonumber(v) > NOW
end

function L.retire(c, status)
  L.set(c, 'status', status)
  L.set(c, 'ended_at', NOW)
  redis.call('EXPIRE', c._k, math.floor(L.gcfg().retention))
  local dkey = L.K2('cd', c.contact_id)
  local n = redis.call('HLEN', dkey)
  if n > 0 then
    redis.call('DECRBY', K_NDECL, n)
    redis.call('DEL', dkey)
  end
end

function L.cid_of(m) return string.sub(m, 14) end

-- ------------------------------------------------------------------------------------------ offers
function L.offer(c, aids)
  local q = c.queue
  local qp = L.qcfg(q)
  local exp = NOW + qp.offer_timeout
  L.unplace(c)
  L.set(c, 'status', 'offered')
  L.set(c, 'offered_at', NOW)
  L.set(c, 'offered_to', table.concat(aids, ','))
  for _, aid in ipairs(aids) do
    local a = L.A(aid)
    L.set(a, 'offer', c.contact_id)
    L.set(a, 'offer_exp', exp)
    if qp.strategy == 'round_robin' then
      L.set(a, 'rr:' .. q, redis.call('HINCRBY', K_RR, q, 1))
    end
    redis.call('ZREM', K_DA, a.agent_id)      -- its pools: lazy removal (L.stale)
    redis.call('ZADD', K_DO, exp, c.contact_id .. '|' .. aid)
    redis.call('HINCRBY', K_STATS, 'claims', 1)
    L.ev('offered', c, aid, {expires_at = exp})
    OFFERS[#OFFERS + 1] = {c.contact_id, aid, q, c.channel, exp}
    L.touch(a)
  end
end

function L.drop_offer(c, aid)
  local rest = {}
  for _, x in ipairs(L.offered_list(c)) do if x ~= aid then rest[#rest + 1] = x end end
  if #rest > 0 then L.set(c, 'offered_to', table.concat(rest, ',')) else L.set(c, 'offered_to', nil) end
  redis.call('ZREM', K_DO, c.contact_id .. '|' .. aid)
  local a = L.A(aid)
  if a and a.offer == c.contact_id then
    L.set(a, 'offer', nil)
    L.set(a, 'offer_exp', nil)
    L.repool(a)
    L.touch(a)
  end
end

function L.withdraw_all(c, keep)
  for _, other in ipairs(L.offered_list(c)) do
    if other ~= keep then
      L.drop_offer(c, other)
      L.ev('offer_withdrawn', c, other)
    end
  end
end

function L.back(c, aid, kind, data)
  local untl = NOW + L.gcfg().cooldown
  if redis.call('HSET', L.K2('cd', c.contact_id), aid, untl) == 1 then redis.call('INCR', K_NDECL) end
  if not redis.call('ZSCORE', K_DK, c.contact_id) then redis.call('ZADD', K_DK, untl, c.contact_id) end
  L.drop_offer(c, aid)
  L.ev(kind, c, aid, data)
  if #L.offered_list(c) == 0 and c.status == 'offered' then L.place(c) end
end

function L.leave(a, presence, reason)
  if a.presence == 'available' and presence ~= 'available' then L.staff(a, -1) end
  if a.presence ~= 'available' and presence == 'available' then L.staff(a, 1) end
  L.set(a, 'presence', presence)
  if presence == 'break' and reason then L.set(a, 'reason', reason) else L.set(a, 'reason', nil) end
  if presence ~= 'available' and a.offer then
    local c = L.C(a.offer)
    L.drop_offer(c, a.agent_id)
    L.ev('offer_withdrawn', c, a.agent_id)
    if #L.offered_list(c) == 0 and c.status == 'offered' then L.place(c) end
  end
end

-- ---------------------------------------------------------------------------- wrap-up and finish
function L.finish(c, a)
  local wrap = L.qcfg(c.queue).wrap
  L.set(c, 'status', 'wrap_up')
  L.set(c, 'finished_at', NOW)
  L.set(a, 'wrap', L.num(a.wrap, 0) + 1)
  L.unpool(a)
  L.ev('finished', c, a.agent_id, {talk_s = NOW - L.num(c.answered_at, NOW), wrap_up_until = NOW + wrap})
  L.touch(a)
  return wrap
end

function L.end_wrap(c, a, code, notes)
  redis.call('ZREM', K_DW, c.contact_id)
  local ch = c.channel
  L.set(c, 'wrap_code', code)
  L.set(c, 'wrap_notes', notes)
  L.set(a, 'wrap', L.num(a.wrap, 0) - 1)
  L.set(a, 'l:' .. ch, L.load(a, ch) - 1)
  redis.call('SREM', L.K2('ac', a.agent_id), c.contact_id)
  L.set(a, 'idle', NOW)
  local handle = NOW - L.num(c.answered_at, NOW)
  local alpha = L.gcfg().alpha
  local q = c.queue
  local old = L.num(redis.call('HGET', K_AHT, q), L.qcfg(q).aht)
  redis.call('HSET', K_AHT, q, alpha * handle + (1 - alpha) * old)
  L.retire(c, 'done')
  L.ev('wrapped_up', c, a.agent_id, {code = code, notes = notes, handle_s = handle})
  L.repool(a)
  L.touch(a)
end

function L.do_finish(c, a)
  if L.finish(c, a) <= 0 then L.end_wrap(c, a, 'none', '')
  else redis.call('ZADD', K_DW, NOW + L.qcfg(c.queue).wrap, c.contact_id) end
end

-- --------------------------------------------------------------------------------------- matching
function L.less(s1, m1, s2, m2)
  if s1 ~= s2 then return s1 < s2 end
  return m1 < m2
end

function L.match_contact(c)
  if c.status ~= 'waiting' then return end
  local q = c.queue
  local cid = c.contact_id
  local ring = L.qcfg(q).strategy == 'ring_all'
  local ring_max = 1
  if ring then ring_max = L.gcfg().ring_max end
  local chosen = {}
  local seen = {}
  for tier = 0, L.num(c.overflow_step, 0) do
    local key = L.Kp(q, tier, c.channel, c.language)
    if ring then
      for _, x in ipairs(L.pool_pick(key, cid, ring_max + PEEK, false)) do
        if not seen[x[2]] then
          seen[x[2]] = true
          chosen[#chosen + 1] = x
        end
      end
    else
      local x = L.pool_pick(key, cid, PEEK + 1, true)[1]
      if x and (#chosen == 0 or L.less(x[1], x[2], chosen[1][1], chosen[1][2])) then chosen = {x} end
    end
  end
  if #chosen > 0 then
    table.sort(chosen, function(x, y) return L.less(x[1], x[2], y[1], y[2]) end)
    local aids = {}
    for i = 1, math.min(#chosen, ring_max) do aids[i] = chosen[i][2] end
    L.offer(c, aids)
    return true
  end
  return false
end

-- lists = SINTER wk as:<aid> when the caller already has it
function L.match_agent(a, lists)
  if not a or not L.free(a) then return end
  local aid = a.agent_id
  local bs, bm = nil, nil
  for _, suf in ipairs(lists or redis.call('SINTER', K_WALL, L.K2('as', aid))) do
    local key = P .. ':w:' .. suf
    local r = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if #r == 0 then redis.call('SREM', K_WALL, suf) end
    if #r > 0 and L.declined(L.cid_of(r[1]), aid) then r = redis.call('ZRANGE', key, 0, PEEK - 1, 'WITHSCORES') end
    for i = 1, #r, 2 do
      if not L.declined(L.cid_of(r[i]), aid) then
        local s = tonumber(r[i + 1])
        if bs == nil or L.less(s, r[i], bs, bm) then bs, bm = s, r[i] end
        break
      end
    end
  end
  if bm then
    L.match_contact(L.C(L.cid_of(bm)))
    a = L.A(aid)
    if L.free(a) and a.pc and not redis.call('ZSCORE', K_DA, aid) then
      redis.call('ZADD', K_DA, a.idle, aid)
    end
  end
end

-- ------------------------------------------------------------------------------------------ results
function L.reply(c, more)
  L.flush()
  local evs = '[]'
  if #EV > 0 then evs = cjson.encode(EV) end
  local offs = '[]'
  if #OFFERS > 0 then offs = cjson.encode(OFFERS) end
  local fc = {}
  if c then fc = redis.call('HGETALL', c._k) end
  return {'ok', evs, fc, offs, more or 0}
end

function L.fail(code) return {code} end
