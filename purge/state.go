package purge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The purge state in Redis is one hash (keys.state) holding the sequence
// ("seq") and every mark: "H"+scope for a hard mark, "S"+scope for a soft
// one. Sequence and marks live in one key so that Redis can only lose them
// together (eviction, FLUSHALL, a restart without persistence, a failover
// to a replica that missed writes): a sequence that survived its marks
// would let entries purged before the loss be served again.
//
// The log (a stream) and the times (a sorted set, for trimming) are kept
// beside it and may be lost on their own: an instance that cannot catch up
// from the log reloads the hash whole, and lost times only keep marks
// longer.
const (
	bornField = "born"
	seqField  = "seq"
	hardField = "H"
	softField = "S"
)

// recreateLua (re)creates a missing purge state, or one whose sequence is
// behind ARGV floor (what the calling instance has already seen), with the
// sequence ARGV fresh: above everything ever filled. It sets the "all" hard
// mark to that value, so every entry filled before the loss counts as
// purged (a flush, never a resurrection), drops the log and the times of
// the lost state, logs the flush and publishes it. It records when, in
// Redis's clock ("born"), so that purges wait for the instances that were
// cut off by the loss to come back (Redis.wait).
//
// Values are passed and stored as strings: Lua numbers are doubles and
// print time-based sequences in exponent form.
//
// KEYS: state, times, log, channel. Uses locals floor and fresh.
const recreateLua = `
local cur = redis.call('HGET', KEYS[1], 'seq')
if not cur or tonumber(cur) < tonumber(floor) then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  redis.call('HSET', KEYS[1], 'seq', fresh, 'Ha', fresh, 'born', redis.call('TIME')[1])
  redis.call('XADD', KEYS[3], '0-' .. fresh, 's', '0', 'scopes', 'a')
  redis.call('PUBLISH', KEYS[4], fresh)
end
`

// ensureScript makes sure the purge state exists and is not behind
// ARGV[1], and returns its sequence (a string).
var ensureScript = redis.NewScript(`
local floor, fresh = ARGV[1], ARGV[2]
` + recreateLua + `
return redis.call('HGET', KEYS[1], 'seq')
`)

// purgeScript takes the next sequence value (after recreating a lost
// state, as ensureScript does), records it as the mark of every scope
// (ARGV[7:]) with the mark time ARGV[2] (a mark's time only moves
// forward, ZADD GT), drops marks whose time is older than ARGV[2] -
// ARGV[3] (now minus the horizon), appends the purge and its mark time to
// the log with the sequence value as its ID, publishes it and returns it
// (a string). All its keys share the {prefix} hash tag, so it runs in one
// slot.
//
// ARGV: soft ("1" or "0"), mark time (ms, see MarkTime), horizon from the
// mark time (ms), log length, floor, fresh, scopes...
var purgeScript = redis.NewScript(`
local floor, fresh = ARGV[5], ARGV[6]
` + recreateLua + `
redis.call('HINCRBY', KEYS[1], 'seq', 1)
local seq = redis.call('HGET', KEYS[1], 'seq')
local kind = 'H'
if ARGV[1] == '1' then kind = 'S' end
for i = 7, #ARGV do
  redis.call('HSET', KEYS[1], kind .. ARGV[i], seq)
  redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[i])
end
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[2]) - tonumber(ARGV[3]), 'LIMIT', 0, 1000)
for _, s in ipairs(old) do
  redis.call('HDEL', KEYS[1], 'H' .. s, 'S' .. s)
  redis.call('ZREM', KEYS[2], s)
end
local scopes = {}
for i = 7, #ARGV do scopes[#scopes + 1] = ARGV[i] end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '0-' .. seq, 's', ARGV[1], 'at', ARGV[2], 'scopes', table.concat(scopes, '\n'))
redis.call('PUBLISH', KEYS[4], seq)
return seq
`)

// scriptKeys are the KEYS of ensureScript and purgeScript.
func (k redisKeys) scriptKeys() []string { return []string{k.state, k.times, k.log, k.channel} }

// fresh is the sequence a recreated purge state starts at: after floor,
// and after every value a state created earlier can have reached, since
// it is the time in microseconds (a state created at t and incremented
// fewer than a million times a second stays below it). Clocks of the
// instances must agree to well within the time Redis takes to lose and
// regain its data; an instance whose clock is behind still never goes
// backwards (floor), it may only flush once more.
func (r *Redis) fresh(floor uint64) uint64 {
	return max(floor+1, uint64(r.now().UnixMicro()))
}

// ensure makes sure the purge state exists and is not behind what this
// instance has seen, recreating it (a flush) when it is, and returns the
// sequence.
func (r *Redis) ensure(ctx context.Context) (uint64, error) {
	floor := r.floor()
	seq, err := ensureScript.Run(ctx, r.client, r.keys.scriptKeys(), floor, r.fresh(floor)).Uint64()
	if err != nil {
		return 0, fmt.Errorf("purge: redis: purge state: %w", err)
	}
	r.see(seq)
	return seq, nil
}

// lostState says whether a sequence read from Redis (err from the read)
// shows a purge state that Redis lost: missing, or behind what this
// instance has seen.
func (r *Redis) lostState(seq uint64, err error) bool {
	if errors.Is(err, redis.Nil) {
		return true
	}
	return err == nil && seq < r.floor()
}

// parseState reads the purge state hash into marks, returning the
// sequence (0 when the hash has none). times are the marks' times from the
// times set, so that the mirror trims a short-lived mark when Redis does;
// a mark without one is timed at now (kept the whole horizon).
func parseState(fields map[string]string, into *marks, times map[string]time.Time, now time.Time) uint64 {
	seq, _ := strconv.ParseUint(fields[seqField], 10, 64)
	for name, v := range fields {
		if len(name) < 2 || (name[0] != hardField[0] && name[0] != softField[0]) {
			continue
		}
		s, ok := parseScope(name[1:])
		n, err := strconv.ParseUint(v, 10, 64)
		if ok && err == nil {
			at, timed := times[name[1:]]
			if !timed {
				at = now
			}
			into.set(s, n, name[0] == softField[0], at)
		}
	}
	return seq
}

// logSeq reads the sequence value from a log entry ID "0-<seq>".
func logSeq(id string) (uint64, bool) {
	_, n, ok := strings.Cut(id, "-")
	seq, err := strconv.ParseUint(n, 10, 64)
	return seq, ok && err == nil
}
