/* fg_scripts.c - the Redis Lua scripts that make every racing state change atomic. */
#include "fg_action_impl.h"
#include <pthread.h>
#include <string.h>

/*
 * Conventions: every script returns an array whose first element is a status word.
 * All keys of one script share the customer's hash tag, except the audit stream and the
 * metrics hash (global by nature; see docs/redis.md). Times come from ARGV (the host's
 * clock), never from Redis' TIME, so the engine stays testable and frontends agree.
 */

/* KEYS: pre, pending, chcount, cooldown, devices, user, newch, audit, metrics
 * ARGV: chprefix, chal_id, code_h, code_enc, ip, browser, time, now, timeout, mode,
 *       window, max, pushchannel, customer, pre_hash */
static const char create_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {'nopre'} end\n"
    "local cd = redis.call('TTL', KEYS[4])\n"
    "if cd > 0 then return {'cooldown', cd} end\n"
    "if redis.call('HGET', KEYS[6], 'disabled') == '1' then return {'disabled'} end\n"
    "local devs = redis.call('SMEMBERS', KEYS[5])\n"
    "if #devs == 0 then return {'nodevice'} end\n"
    "local n = redis.call('INCR', KEYS[3])\n"
    "if n == 1 then redis.call('EXPIRE', KEYS[3], ARGV[11]) end\n"
    "if n > tonumber(ARGV[12]) then return {'limit', redis.call('TTL', KEYS[3])} end\n"
    "local old = redis.call('GET', KEYS[2])\n"
    "if old then\n"
    "  local ok = ARGV[1] .. old\n"
    "  if redis.call('HGET', ok, 'state') == 'pending' then\n"
    "    redis.call('HSET', ok, 'state', 'superseded')\n"
    "  end\n"
    "end\n"
    "local now = tonumber(ARGV[8])\n"
    "local to = tonumber(ARGV[9])\n"
    "redis.call('HSET', KEYS[7], 'state', 'pending', 'code_h', ARGV[3], 'code_enc', ARGV[4],\n"
    "  'pre', ARGV[15], 'ip', ARGV[5], 'browser', ARGV[6], 'time', ARGV[7],\n"
    "  'expires', now + to, 'mode', ARGV[10], 'bad', 0)\n"
    "redis.call('EXPIRE', KEYS[7], to + 300)\n"
    "redis.call('SET', KEYS[2], ARGV[2], 'EX', to)\n"
    "redis.call('HSET', KEYS[1], 'chal', ARGV[2])\n"
    "redis.call('HDEL', KEYS[1], 'interval', 'short', 'poll')\n"
    "redis.call('EXPIRE', KEYS[1], math.max(600, to + 120))\n"
    "redis.call('PUBLISH', ARGV[13], cjson.encode({customer = ARGV[14], devices = devs,\n"
    "  challenge = ARGV[2], expires_in = to}))\n"
    "redis.call('XADD', KEYS[8], 'MAXLEN', '~', 10000, '*', 'event', 'challenge_created',\n"
    "  'customer', ARGV[14], 'ip', ARGV[5], 'detail', ARGV[10])\n"
    "redis.call('HINCRBY', KEYS[9], 'challenge_created', 1)\n"
    "return {'ok', #devs}\n";

/* KEYS: pre   ARGV: chprefix, now, count_poll(0/1), default interval
 * -> {state, expires_in, code_enc, interval, slow(0/1)} or {'nopre'} / {'nochal'}
 * slow_down: two polls in a row came sooner than the interval (one short gap can be
 * rounding: times are whole seconds); the interval then grows by a second, up to 10. */
static const char status_lua[] =
    "local p = redis.call('HMGET', KEYS[1], 'chal', 'poll', 'interval', 'short')\n"
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {'nopre'} end\n"
    "if not p[1] then return {'nochal'} end\n"
    "local ck = ARGV[1] .. p[1]\n"
    "local c = redis.call('HMGET', ck, 'state', 'expires', 'code_enc')\n"
    "local now = tonumber(ARGV[2])\n"
    "if not c[1] then return {'expired', 0, '', tonumber(ARGV[4]), 0} end\n"
    "local st = c[1]\n"
    "local exp = tonumber(c[2])\n"
    "if st == 'pending' and now >= exp then\n"
    "  redis.call('HSET', ck, 'state', 'expired')\n"
    "  st = 'expired'\n"
    "end\n"
    "local iv = tonumber(p[3] or ARGV[4])\n"
    "local slow = 0\n"
    "if ARGV[3] == '1' then\n"
    "  local short = 0\n"
    "  if p[2] and st == 'pending' and now - tonumber(p[2]) < iv then\n"
    "    short = tonumber(p[4] or '0') + 1\n"
    "  end\n"
    "  if short >= 2 then\n"
    "    slow = 1\n"
    "    short = 0\n"
    "    iv = math.min(iv + 1, 10)\n"
    "    redis.call('HSET', KEYS[1], 'interval', iv)\n"
    "  end\n"
    "  redis.call('HSET', KEYS[1], 'poll', now, 'short', short)\n"
    "end\n"
    "return {st, math.max(exp - now, 0), c[3] or '', iv, slow}\n";

/* KEYS: pre, sess, sessions, user, audit, metrics
 * ARGV: chprefix, now, idle, sid_hash, pre_hash, customer, ip, grace
 * -> {'ok', name, rd} | {'state', state} | {'nopre'} | {'nochal'}
 * A new session also drops the customer's sessions that have expired by their TTL
 * (KEYS[2] is <prefix>sess:<sid_hash>: the same slot, so this is cluster-safe). */
static const char redeem_lua[] =
    "local p = redis.call('HMGET', KEYS[1], 'chal', 'rd')\n"
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {'nopre'} end\n"
    "if not p[1] then return {'nochal'} end\n"
    "local ck = ARGV[1] .. p[1]\n"
    "local c = redis.call('HMGET', ck, 'state', 'expires', 'pre', 'decided')\n"
    "local now = tonumber(ARGV[2])\n"
    "if not c[1] then return {'state', 'expired'} end\n"
    "if c[3] ~= ARGV[5] then return {'state', 'foreign'} end\n"
    "if c[1] ~= 'approved' then return {'state', c[1]} end\n"
    "if redis.call('HGET', KEYS[4], 'disabled') == '1' then return {'state', 'disabled'} end\n"
    "if now >= tonumber(c[2]) + tonumber(ARGV[8]) then\n"
    "  redis.call('HSET', ck, 'state', 'expired')\n"
    "  return {'state', 'expired'}\n"
    "end\n"
    "redis.call('HSET', ck, 'state', 'redeemed')\n"
    "redis.call('DEL', KEYS[1])\n"
    "local name = redis.call('HGET', KEYS[4], 'name') or ''\n"
    "redis.call('HSET', KEYS[2], 'name', name, 'auth_time', tonumber(c[4] or now),\n"
    "  'created', now, 'seen', now)\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[3])\n"
    "local base = string.sub(KEYS[2], 1, #KEYS[2] - #ARGV[4])\n"
    "for _, h in ipairs(redis.call('SMEMBERS', KEYS[3])) do\n"
    "  if redis.call('EXISTS', base .. h) == 0 then redis.call('SREM', KEYS[3], h) end\n"
    "end\n"
    "redis.call('SADD', KEYS[3], ARGV[4])\n"
    "redis.call('XADD', KEYS[5], 'MAXLEN', '~', 10000, '*', 'event', 'login',\n"
    "  'customer', ARGV[6], 'ip', ARGV[7], 'detail', 'session created')\n"
    "redis.call('HINCRBY', KEYS[6], 'login_success', 1)\n"
    "return {'ok', name, p[2] or ''}\n";

/* KEYS: sess, user   ARGV: now, idle, remaining_max
 * -> {'ok', name, auth_time, ttl} | {'none'}
 * A disabled account's sessions end here even if `user disable` has not reached them yet. */
static const char touch_lua[] =
    "local v = redis.call('HMGET', KEYS[1], 'name', 'auth_time')\n"
    "if not v[2] then return {'none'} end\n"
    "if redis.call('HGET', KEYS[2], 'disabled') == '1' then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  return {'none'}\n"
    "end\n"
    "local ttl = math.min(tonumber(ARGV[2]), tonumber(ARGV[3]))\n"
    "if ttl <= 0 then redis.call('DEL', KEYS[1]) return {'none'} end\n"
    "redis.call('HSET', KEYS[1], 'seen', ARGV[1])\n"
    "redis.call('EXPIRE', KEYS[1], ttl)\n"
    "return {'ok', v[1] or '', v[2], ttl}\n";

/* KEYS: sess, sessions, audit, metrics   ARGV: sid_hash, customer, ip -> {'ok', existed} */
static const char logout_lua[] =
    "local n = redis.call('DEL', KEYS[1])\n"
    "redis.call('SREM', KEYS[2], ARGV[1])\n"
    "if n == 1 then\n"
    "  redis.call('XADD', KEYS[3], 'MAXLEN', '~', 10000, '*', 'event', 'logout',\n"
    "    'customer', ARGV[2], 'ip', ARGV[3], 'detail', '')\n"
    "  redis.call('HINCRBY', KEYS[4], 'logout', 1)\n"
    "end\n"
    "return {'ok', n}\n";

/* KEYS: nonce, pending   ARGV: chprefix, now, nonce_ttl, check_nonce(0/1: long-poll rounds
 * after the first do not count the nonce again)
 * -> {'replay'} | {'none'} | {'ok', id, mode, code_enc, expires_in, ip, browser, time} */
static const char pending_lua[] =
    "if ARGV[4] == '1' then\n"
    "  if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then return {'replay'} end\n"
    "end\n"
    "local id = redis.call('GET', KEYS[2])\n"
    "if not id then return {'none'} end\n"
    "local c = redis.call('HMGET', ARGV[1] .. id, 'state', 'expires', 'mode', 'code_enc',\n"
    "  'ip', 'browser', 'time')\n"
    "local now = tonumber(ARGV[2])\n"
    "if c[1] ~= 'pending' or now >= tonumber(c[2]) then return {'none'} end\n"
    "return {'ok', id, c[3], c[4], tonumber(c[2]) - now, c[5], c[6], c[7]}\n";

/* KEYS: nonce, ch, pending, cooldown, audit, metrics
 * ARGV: decision, code_h, device, now, not_me(0/1), cooldown_secs, nonce_ttl, customer,
 *       chal_id, max_bad, app_ip
 * -> {'replay'} | {'unknown'} | {'final', state} | {'badcode', left} | {'ok', state} */
static const char respond_lua[] =
    "if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[7]) then return {'replay'} end\n"
    "local c = redis.call('HMGET', KEYS[2], 'state', 'expires', 'code_h')\n"
    "if not c[1] then return {'unknown'} end\n"
    "if c[1] ~= 'pending' then return {'final', c[1]} end\n"
    "local now = tonumber(ARGV[4])\n"
    "if now >= tonumber(c[2]) then\n"
    "  redis.call('HSET', KEYS[2], 'state', 'expired')\n"
    "  return {'final', 'expired'}\n"
    "end\n"
    "local function close(state, reason)\n"
    "  redis.call('HSET', KEYS[2], 'state', state, 'device', ARGV[3], 'reason', reason,\n"
    "    'decided', ARGV[4])\n"
    "  if redis.call('GET', KEYS[3]) == ARGV[9] then redis.call('DEL', KEYS[3]) end\n"
    "  local why = reason ~= '' and (' (' .. reason .. ')') or ''\n"
    "  redis.call('XADD', KEYS[5], 'MAXLEN', '~', 10000, '*', 'event', 'challenge_' .. state,\n"
    "    'customer', ARGV[8], 'ip', ARGV[11], 'detail', 'device ' .. ARGV[3] .. why)\n"
    "  redis.call('HINCRBY', KEYS[6], 'challenge_' .. state, 1)\n"
    "end\n"
    "if ARGV[1] == 'approve' then\n"
    "  if c[3] ~= ARGV[2] then\n"
    "    local n = redis.call('HINCRBY', KEYS[2], 'bad', 1)\n"
    "    if n >= tonumber(ARGV[10]) then close('denied', 'wrong_code') return {'final', 'denied'} end\n"
    "    return {'badcode', tonumber(ARGV[10]) - n}\n"
    "  end\n"
    "  close('approved', '')\n"
    "  return {'ok', 'approved'}\n"
    "end\n"
    "if ARGV[5] == '1' then\n"
    "  close('denied', 'not_me')\n"
    "  if tonumber(ARGV[6]) > 0 then redis.call('SET', KEYS[4], '1', 'EX', ARGV[6]) end\n"
    "else\n"
    "  close('denied', 'denied')\n"
    "end\n"
    "return {'ok', 'denied'}\n";

/* KEYS: nonce, act   ARGV: nonce_ttl -> {'replay'} | {'badcode'} | {'ok', customer} */
static const char enroll_lua[] =
    "if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return {'replay'} end\n"
    "local c = redis.call('GETDEL', KEYS[2])\n"
    "if not c then return {'badcode'} end\n"
    "return {'ok', c}\n";

/* KEYS: counter   ARGV: delta (1 or -1), window -> the count after the change
 * A login attempt is counted before its password is hashed, so parallel attempts cannot
 * all pass a check made before any of them was counted; a correct password takes its
 * attempt back (-1, never below what is there, never creating a key without a TTL). */
static const char attempt_lua[] =
    "if ARGV[1] == '-1' then\n"
    "  if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "  return redis.call('DECR', KEYS[1])\n"
    "end\n"
    "local n = redis.call('INCR', KEYS[1])\n"
    "if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end\n"
    "return n\n";

/* KEYS: user   ARGV: verified hash, new hash -> 1 replaced | 0 the password changed meanwhile
 * (an admin's `user passwd` during the login must not be undone by the login's rehash) */
static const char rehash_lua[] =
    "if redis.call('HGET', KEYS[1], 'pw') ~= ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'pw', ARGV[2])\n"
    "return 1\n";

static fg_script_t scripts[FG_SCRIPT_COUNT] = {
    [FG_SCRIPT_CREATE] = {"create", create_lua, ""},
    [FG_SCRIPT_STATUS] = {"status", status_lua, ""},
    [FG_SCRIPT_REDEEM] = {"redeem", redeem_lua, ""},
    [FG_SCRIPT_TOUCH] = {"touch", touch_lua, ""},
    [FG_SCRIPT_LOGOUT] = {"logout", logout_lua, ""},
    [FG_SCRIPT_PENDING] = {"pending", pending_lua, ""},
    [FG_SCRIPT_RESPOND] = {"respond", respond_lua, ""},
    [FG_SCRIPT_ENROLL] = {"enroll", enroll_lua, ""},
    [FG_SCRIPT_ATTEMPT] = {"attempt", attempt_lua, ""},
    [FG_SCRIPT_REHASH] = {"rehash", rehash_lua, ""},
};

static pthread_once_t scripts_once = PTHREAD_ONCE_INIT;

static void scripts_hash(void)
{
    for (int i = 0; i < FG_SCRIPT_COUNT; i++) {
        fg_sha1_hex(scripts[i].body, strlen(scripts[i].body), scripts[i].sha);
    }
}

/* Returns the script with its SHA-1 (computed once per process, thread-safe). */
const fg_script_t *fg_script_get(fg_script_id_t id)
{
    pthread_once(&scripts_once, scripts_hash);
    return &scripts[id];
}
