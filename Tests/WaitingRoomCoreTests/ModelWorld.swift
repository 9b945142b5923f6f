import WaitingRoomCore

/// A deterministic drop run on the pure admission model, with a simulated clock: shoppers join, look at
/// their status, poll when told, claim when offered and enter checkout when the entry gate lets them.
/// Used to check the model's promises (entries within the rate, honest ETAs) without Redis or timing.
struct ModelWorld {
    struct Shopper {
        var seq: Int64
        var comes: Bool
        var firstLookMs: Int64?
        var firstETA: ETARange?
        var nextPollMs: Int64
        var enteredMs: Int64?
        var ticketID: String
        var lapsed = false
    }

    var settings: RoomSettings
    var state: AdmissionState
    var nowMs: Int64
    var shoppers: [Shopper] = []
    var entries: [Int64] = []
    /// Checkout duration of the shopper with this place, before the order service releases the slot (nil:
    /// never released, sessions expire).
    var checkoutMs: ((Int64) -> Int64)?
    var releases: [(atMs: Int64, jti: String)] = []
    var history: [(atMs: Int64, head: Int64, bound: Bool)] = []
    var policy = PollPolicy()

    init(settings: RoomSettings, state: RoomState = .open, startMs: Int64 = 1_000_000) {
        self.settings = settings
        self.nowMs = startMs
        self.state = AdmissionState(state: state, nowMs: startMs)
    }

    /// Adds `count` shoppers to the back of the queue; `comes` says whether each will ever poll.
    mutating func join(_ count: Int, comes: (Int) -> Bool = { _ in true }, firstLookAfterMs: Int64? = 0) {
        for index in 0..<count {
            state.tail += 1
            let look = firstLookAfterMs.map { nowMs + $0 }
            shoppers.append(Shopper(seq: state.tail, comes: comes(index), firstLookMs: nil, nextPollMs: look ?? .max, ticketID: "t\(state.tail)"))
        }
    }

    var snapshot: RoomSnapshot {
        RoomSnapshot(
            name: "world", settings: settings, state: state.state, epoch: "e", tail: state.tail, head: state.head,
            openedAtMs: state.openedAtMs, active: Int64(state.admissions.count), offers: state.offersLive, showUpRatio: state.showUp,
            offerRate: state.offerRate, entryTatMs: state.entryTatMs, redisNowMs: nowMs
        )
    }

    /// The capacity-freeing rate as the gate's cache measures it (see `RoomCache`).
    var slotsFreeing: Double? {
        SlotsFreeing.rate(history.map { (atMs: $0.atMs, head: $0.head, bound: $0.bound) })
    }

    /// Runs for `durationMs` in 100 ms ticks.
    mutating func run(forMs durationMs: Int64) {
        let end = nowMs + durationMs
        while nowMs < end {
            nowMs += 100
            state = AdmissionModel.tick(state, settings: settings, nowMs: nowMs).state
            // Sampled right after the tick, as the gate's refresh sees the room.
            history.append((nowMs, state.head, snapshot.capacityBinds))
            history.removeAll { nowMs - $0.atMs > SlotsFreeing.windowMs }
            while let first = releases.first, first.atMs <= nowMs {
                releases.removeFirst()
                state = AdmissionModel.release(state, jti: first.jti).state
            }
            for index in shoppers.indices where shoppers[index].comes && shoppers[index].enteredMs == nil && !shoppers[index].lapsed {
                if shoppers[index].nextPollMs <= nowMs { poll(index) }
            }
        }
    }

    private mutating func poll(_ index: Int) {
        let shopper = shoppers[index]
        let decision = ShopperStatus.decide(seq: shopper.seq, jitterSeed: UInt64(index), snapshot: snapshot, slotsFreeingPerSecond: slotsFreeing, nowMs: nowMs, policy: policy)
        if shoppers[index].firstLookMs == nil {
            shoppers[index].firstLookMs = nowMs
            if case .waiting(_, let eta, _, _) = decision { shoppers[index].firstETA = eta }
            if case .claim = decision { shoppers[index].firstETA = ETARange(low: 0, high: 1) }
        }
        switch decision {
        case .waiting(_, _, _, let poll), .paused(_, let poll), .scheduled(_, let poll):
            shoppers[index].nextPollMs = nowMs + Int64(poll)
        case .closed:
            shoppers[index].lapsed = true
        case .claim(let position):
            let result = AdmissionModel.claim(state, settings: settings, ticketID: shopper.ticketID, position: position, jti: "j\(shopper.seq)", nowMs: nowMs)
            state = result.state
            switch result.outcome {
            case .admitted(let admission) where admission.entersAtMs > nowMs:
                shoppers[index].nextPollMs = nowMs + Int64(policy.enteringInterval(waitMs: admission.entersAtMs - nowMs))
            case .admitted(let admission):
                shoppers[index].enteredMs = nowMs
                entries.append(nowMs)
                if let checkoutMs {
                    releases.append((nowMs + checkoutMs(shopper.seq), admission.jti))
                    releases.sort { $0.atMs < $1.atMs }
                }
            case .expired, .closed, .ended:
                shoppers[index].lapsed = true
            case .waiting:
                shoppers[index].nextPollMs = nowMs + 1_000
            }
        }
    }

    /// Most entries in any `windowMs` window.
    func worstEntries(windowMs: Int64) -> Int {
        var worst = 0
        var start = 0
        for end in entries.indices {
            while entries[end] - entries[start] >= windowMs { start += 1 }
            worst = max(worst, end - start + 1)
        }
        return worst
    }

    /// Share of shoppers (who looked after `fromMs`, before `toMs`) whose real wait fell in the first range shown.
    func etaCoverage(firstLookFrom fromMs: Int64 = .min, to toMs: Int64 = .max) -> (covered: Int, total: Int) {
        var covered = 0
        var total = 0
        for shopper in shoppers {
            guard let look = shopper.firstLookMs, look >= fromMs, look < toMs, let entered = shopper.enteredMs else { continue }
            total += 1  // a shopper shown no range (on hold) counts as not covered
            if let eta = shopper.firstETA, eta.contains(Double(entered - look) / 1000) { covered += 1 }
        }
        return (covered, total)
    }
}
