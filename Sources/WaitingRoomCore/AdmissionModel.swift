import Foundation

/// The admission arithmetic of a room, written once: the token bucket that advances `head`, the ramp after
/// opening, the show-up compensation, lapsing offers, the capacity cap and the entry gate that keeps
/// shoppers entering checkout at `rate`.
///
/// Everything here is a pure function of a state, the settings and a clock. The tick and claim scripts in
/// Redis (`Sources/WaitingRoomStore/Scripts/*.lua`) are line-by-line transcriptions of ``tick(_:settings:nowMs:)``
/// and ``claim(_:settings:ticketID:position:jti:nowMs:)`` (and the upsert script of
/// ``settingsChanged(_:from:to:nowMs:)``), and a Store test runs thousands of randomized steps
/// through both and requires the same state after every step.
///
/// Two rates are at work:
/// - **offers** (`head` moving) run at `rate / showUp`: where many offered shoppers never come back, more
///   are offered so that checkout still receives `rate`;
/// - **entries** (tokens handed out) are spaced by a GCRA at `rate`, whatever the show-up pattern: a
///   shopper who claims while the entry schedule is full gets a reserved entry time a moment later, so a
///   block of shoppers who all come back after a block of no-shows cannot push checkout over `rate`.
public enum AdmissionModel {
    /// Offered shoppers not seen within the claim window lapse; with fewer than this many (decayed) offers
    /// observed, the show-up ratio is taken as 1.
    public static let showUpMinimumSample = 20.0
    /// Compensation never offers more than 1 / this as many shoppers as `rate`.
    public static let showUpFloor = 0.2
    /// Each lapsed batch ages the show-up statistics by this factor (a slowly moving average).
    public static let showUpDecay = 0.99
    /// A tick credits at most this much time (a gate that stalled does not release a burst).
    public static let maximumTickCreditMs: Int64 = 1_000
    /// Entries may run this far ahead of the steady schedule after a quiet spell (GCRA tolerance):
    /// the worst 3 s then hold at most 3.5 s worth of `rate`.
    public static let entryBurstMs = 500.0
    /// While the show-up compensation is offering extra and reserved entries reach this far into the
    /// future, no new offers are made: shoppers are coming back faster than checkout takes them, so there
    /// is nothing to compensate.
    public static let entryBacklogLimitMs = 5_000.0
    /// The smallest nonzero rate a room may have (and the floor of the entry spacing while a ramp starts
    /// near 0): one shopper every 1,000 s. Below it, the entry schedule would reach beyond what Redis can
    /// store (`rate: 1e-17` made every claim fail); settings refuse it.
    public static let minimumRate = 0.001
    /// The entry schedule never reserves further ahead than this (a day: a ticket's whole life). With rates
    /// at or above ``minimumRate`` it is never reached; it keeps every stored time a readable integer. A
    /// schedule stored beyond it was written before this limit (`rate: 1e-17` left 1e20): it is dropped.
    public static let entryHorizonMs = 86_400_000.0

    /// The rate at `nowMs`: the ``RoomSettings/admissionRate`` (`rate`, or the auto-tuned rate within
    /// `minRate...rate`), ramped linearly from `rampStartRate` (a tenth of `rate` when unset; never above the
    /// admission rate) over `rampSeconds` after opening.
    public static func rate(_ settings: RoomSettings, openedAtMs: Int64, nowMs: Int64) -> Double {
        let target = settings.admissionRate
        guard let ramp = settings.rampSeconds, ramp > 0, openedAtMs > 0, nowMs < openedAtMs + Int64(ramp) * 1_000 else { return target }
        let start = min(settings.rampStartRate ?? settings.rate / 10, target)
        return start + (target - start) * (Double(nowMs - openedAtMs) / Double(Int64(ramp) * 1_000))
    }

    /// The spacing of entries at `rate` (ms), never wider than at ``minimumRate``.
    public static func entrySpacingMs(_ rate: Double) -> Double {
        1_000 / max(rate, minimumRate)
    }

    /// The entry schedule (GCRA's theoretical arrival time) as a claim may use it: one beyond the horizon
    /// (or unreadable) could only have been written before the horizon existed, and counts as none.
    static func entrySchedule(_ tatMs: Double, nowMs now: Int64) -> Double {
        if tatMs.isNaN || tatMs > Double(now) + entryHorizonMs { return 0 }
        return tatMs
    }

    /// The settings changed (a rate, a ramp): a faster rate takes effect for the entry schedule at once.
    /// The entries already reserved ahead (the backlog `entryTatMs - now`) are re-spaced at the new rate, so
    /// the next shopper waits for as many entries as before, not for as long: 20 entries reserved at 0.1/s
    /// then a rate of 100/s hold the next shopper 0.2 s, not 200 s. A slower rate keeps the schedule (the
    /// entries already promised happen; the new spacing applies from the next claim).
    public static func settingsChanged(_ state: AdmissionState, from old: RoomSettings, to new: RoomSettings, nowMs now: Int64) -> AdmissionState {
        var s = state
        let before = rate(old, openedAtMs: s.openedAtMs, nowMs: now)
        let after = rate(new, openedAtMs: s.openedAtMs, nowMs: now)
        let tat = entrySchedule(s.entryTatMs, nowMs: now)
        if after > before && tat > Double(now) {
            var ratio = 0.0
            if before > 0 { ratio = entrySpacingMs(after) / entrySpacingMs(before) }
            s.entryTatMs = Stored.round(Double(now) + (tat - Double(now)) * ratio, decimals: 3)
        }
        return s
    }

    /// The show-up ratio from the decayed offered/claimed counts of lapsed batches.
    public static func showUp(offered: Double, claimed: Double) -> Double {
        var ratio = 1.0
        if offered >= showUpMinimumSample { ratio = claimed / offered }
        return max(ratio, showUpFloor)
    }

    /// One tick: opens a scheduled room whose time has come, lapses old offers, expires admissions and
    /// advances `head` by the token bucket within capacity. Returns the new state and how many were offered.
    public static func tick(_ state: AdmissionState, settings: RoomSettings, nowMs now: Int64) -> (state: AdmissionState, offered: Int64, opened: Bool) {
        var s = state
        var elapsed = now - s.lastTickMs
        if elapsed < 0 { elapsed = 0 }
        if elapsed > maximumTickCreditMs { elapsed = maximumTickCreditMs }

        // A scheduled room opens here: the pre-queue is frozen (its sealed lottery key is revealed by the script).
        var opened = false
        let opensAt = settings.opensAtMs
        if s.state == .scheduled && opensAt > 0 && now >= opensAt {
            s.state = .open
            s.openedAtMs = now
            s.prequeue = s.tail
            opened = true
        }

        // Offers older than the claim window lapse; their outcome feeds the show-up estimate.
        let window = Int64(settings.claimWindowSeconds) * 1_000
        while let first = s.batches.first, first.offeredAtMs + window <= now {
            let unclaimed = first.size - first.claimed
            s.offersLive -= unclaimed
            s.lapsed += unclaimed
            s.finOffered = s.finOffered * showUpDecay + Double(first.size)
            s.finClaimed = s.finClaimed * showUpDecay + Double(first.claimed)
            s.batches.removeFirst()
        }
        if s.offersLive < 0 { s.offersLive = 0 }
        let showUp = showUp(offered: s.finOffered, claimed: s.finClaimed)

        s.admissions = s.admissions.filter { $0.value > now }
        let active = Int64(s.admissions.count)

        let rate = rate(settings, openedAtMs: s.openedAtMs, nowMs: now)
        let offerRate = rate / showUp
        var offered: Int64 = 0
        if s.state == .open {
            s.bucket += offerRate * Double(elapsed) / 1_000
            // A second's worth of offers at most (one at least while admitting); none at rate 0: a rate set
            // to 0 holds the queue at once, whatever the bucket saved up before.
            let burst = offerRate > 0 ? max(offerRate, 1) : 0
            if s.bucket > burst { s.bucket = burst }
            var n = Int64(s.bucket.rounded(.down))
            if n > s.tail - s.head { n = s.tail - s.head }
            if let capacity = settings.capacity {
                let free = max(Int64(capacity) - active - s.offersLive, 0)
                if n > free { n = free }
            }
            if showUp < 1 && s.entryTatMs - Double(now) > entryBacklogLimitMs { n = 0 }
            if n > 0 {
                s.head += n
                s.bucket -= Double(n)
                s.offersLive += n
                s.batches.append(OfferBatch(head: s.head, offeredAtMs: now, size: n, claimed: 0))
                offered = n
            }
        } else {
            s.bucket = 0
        }

        s.lastTickMs = now
        // Stored as Redis stores them (fixed decimals), so the next tick reads what Redis would.
        s.bucket = Stored.round(s.bucket, decimals: 6)
        s.finOffered = Stored.round(s.finOffered, decimals: 4)
        s.finClaimed = Stored.round(s.finClaimed, decimals: 4)
        s.showUp = Stored.round(showUp, decimals: 4)
        s.offerRate = Stored.round(offerRate, decimals: 4)
        return (s, offered, opened)
    }

    /// What a claim found.
    public enum ClaimOutcome: Sendable, Equatable {
        /// Admitted: enters checkout at `entersAtMs` (now, or a moment later when entries are ahead of
        /// `rate`), the session ends at `expiresAtMs`. Claiming again returns the same admission (brought
        /// forward while it has not begun, when a faster rate re-spaced the entry schedule below it).
        case admitted(Admission)
        /// The admission's session is over (it expired): one place gives one admission, whatever the
        /// settings — a session shorter than the claim window does not make the place claimable again.
        case ended
        /// Not offered yet.
        case waiting
        /// The offer lapsed (the shopper did not come back within the claim window).
        case expired
        case closed
    }

    /// Records an admission for the shopper at effective queue position `position`, once per ticket: a
    /// ticket's admission is remembered for as long as the ticket lives (Redis keeps each admission record
    /// that long, past the session's end), so a ticket is never admitted twice.
    public static func claim(
        _ state: AdmissionState, settings: RoomSettings, ticketID: String, position: Int64, jti: String, nowMs now: Int64
    ) -> (state: AdmissionState, outcome: ClaimOutcome) {
        if let existing = state.claimed[ticketID] {
            if existing.expiresAtMs <= now { return (state, .ended) }
            // A faster rate re-spaced the entry schedule below this reservation (settingsChanged): it enters by
            // the schedule now, not at the old rate's time, so a shopper is not overtaken by later ones.
            let by = max(entrySchedule(state.entryTatMs, nowMs: now), Double(now))
            guard Double(existing.entersAtMs) > by else { return (state, .admitted(existing)) }
            var s = state
            let entersAtMs = Int64(by.rounded(.up))
            let moved = Admission(jti: existing.jti, entersAtMs: entersAtMs, expiresAtMs: entersAtMs + (existing.expiresAtMs - existing.entersAtMs))
            s.claimed[ticketID] = moved
            if s.admissions[moved.jti] != nil { s.admissions[moved.jti] = moved.expiresAtMs }  // a released slot stays free
            return (s, .admitted(moved))
        }
        if position > state.head { return (state, .waiting) }
        if state.state == .closed { return (state, .closed) }
        guard let index = state.batches.firstIndex(where: { $0.head >= position }) else { return (state, .expired) }
        let batch = state.batches[index]
        if position <= batch.head - batch.size { return (state, .expired) }
        if batch.offeredAtMs + Int64(settings.claimWindowSeconds) * 1_000 < now { return (state, .expired) }

        var s = state
        // The entry gate (GCRA): entries are spaced 1/rate apart, with a short burst allowed after a lull;
        // the schedule stays within the horizon, so every time stored is one Redis reads back.
        let rate = rate(settings, openedAtMs: s.openedAtMs, nowMs: now)
        var entersAt = Double(now)
        if rate > 0 {
            let spacing = entrySpacingMs(rate)
            let tat = entrySchedule(s.entryTatMs, nowMs: now)
            entersAt = max(Double(now), tat - entryBurstMs)
            s.entryTatMs = Stored.round(min(max(tat, Double(now)) + spacing, Double(now) + entryHorizonMs), decimals: 3)
        }
        let entersAtMs = Int64(entersAt.rounded(.up))
        let admission = Admission(jti: jti, entersAtMs: entersAtMs, expiresAtMs: entersAtMs + Int64(settings.sessionTTLSeconds) * 1_000)
        s.claimed[ticketID] = admission
        s.admissions[jti] = admission.expiresAtMs
        s.batches[index].claimed += 1
        s.offersLive -= 1
        s.claims += 1
        return (s, .admitted(admission))
    }

    /// The order service ended a checkout: its slot frees at once. True the first time.
    public static func release(_ state: AdmissionState, jti: String) -> (state: AdmissionState, released: Bool) {
        var s = state
        guard s.admissions.removeValue(forKey: jti) != nil else { return (state, false) }
        s.releases += 1
        return (s, true)
    }

    /// Ops state changes; nil when the change makes no sense from the current state.
    public static func change(_ state: AdmissionState, settings: inout RoomSettings, action: RoomAction, nowMs now: Int64) -> AdmissionState? {
        var s = state
        func become(_ next: RoomState) -> AdmissionState {
            s.state = next
            s.lastTickMs = now
            if next == .open && s.openedAtMs == 0 { s.openedAtMs = now }
            return s
        }
        switch action {
        case .close: return become(.closed)
        case .pause: return s.state == .open || s.state == .paused ? become(.paused) : nil
        case .resume: return s.state == .paused || s.state == .open ? become(.open) : nil
        case .open:
            if s.state == .scheduled {
                settings.opensAtMs = now
                return s
            }
            return become(.open)
        }
    }
}

/// An ops action on a room's state.
public enum RoomAction: String, Sendable, CaseIterable {
    case pause, resume, close, open
}

/// A recorded admission: when the shopper enters checkout and when the session ends (both Redis clock, ms).
public struct Admission: Sendable, Equatable {
    public var jti: String
    public var entersAtMs: Int64
    public var expiresAtMs: Int64

    public init(jti: String, entersAtMs: Int64, expiresAtMs: Int64) {
        self.jti = jti
        self.entersAtMs = entersAtMs
        self.expiresAtMs = expiresAtMs
    }
}

/// Offers made in one tick: they lapse together.
public struct OfferBatch: Sendable, Equatable {
    /// `head` after this batch: it offered places `head - size + 1 ... head`.
    public var head: Int64
    public var offeredAtMs: Int64
    public var size: Int64
    public var claimed: Int64

    public init(head: Int64, offeredAtMs: Int64, size: Int64, claimed: Int64) {
        self.head = head
        self.offeredAtMs = offeredAtMs
        self.size = size
        self.claimed = claimed
    }
}

/// Everything the admission arithmetic reads and writes for one room (in Redis: the room hash, the offer
/// batches, the active admissions and each ticket's admission record).
public struct AdmissionState: Sendable, Equatable {
    public var state: RoomState
    public var tail: Int64 = 0
    public var head: Int64 = 0
    public var bucket: Double = 0
    public var lastTickMs: Int64
    public var openedAtMs: Int64 = 0
    public var prequeue: Int64 = 0
    public var offersLive: Int64 = 0
    public var lapsed: Int64 = 0
    public var claims: Int64 = 0
    public var releases: Int64 = 0
    public var finOffered: Double = 0
    public var finClaimed: Double = 0
    public var showUp: Double = 1
    public var offerRate: Double = 0
    /// GCRA: the theoretical time (ms) of the next entry at `rate`.
    public var entryTatMs: Double = 0
    /// Live offer batches, oldest first.
    public var batches: [OfferBatch] = []
    /// Active admissions: jti → session end (ms).
    public var admissions: [String: Int64] = [:]
    /// Admission records by ticket id (so a second claim returns the first admission).
    public var claimed: [String: Admission] = [:]

    /// A new room, as the upsert script creates it.
    public init(state: RoomState, nowMs: Int64) {
        self.state = state
        lastTickMs = nowMs
        openedAtMs = state == .open ? nowMs : 0
    }
}

/// Numbers as the Redis scripts store them: fixed decimals through C's printf, read back with strtod.
public enum Stored {
    public static func round(_ value: Double, decimals: Int) -> Double {
        Double(format(value, decimals: decimals)) ?? value
    }

    public static func format(_ value: Double, decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }
}
