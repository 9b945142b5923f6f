/// The room board: everything a waiting page needs that is the same for every shopper in the room, as one
/// small public JSON document (`GET /v1/rooms/{room}/board`).
///
/// A shopper's place is in their own ticket (and their join answer), so their position is `place − head − 1`
/// and their ETA comes from the board's knots: a page reads the board (cached by any CDN or proxy for a
/// second) and calls the gate only when its turn has come. Nothing here is about any one shopper.
///
/// ```json
/// {"room":"drop","version":"9f2c4a1b0d3e5f67","serverTimeMs":1764716400000,"state":"open","opensAtMs":null,
///  "head":1200,"tail":5400,"onHold":false,"stale":false,"readAfterMs":2000,"claimWindowSeconds":60,
///  "eta":[[0,0,4],[1,0,4],[2,1,5]],"prequeue":0,"lotteryCommitment":null,"lotteryKey":null}
/// ```
public struct RoomBoard: Sendable, Equatable {
    /// One ETA knot: a shopper with `position` people ahead is offered admission within `eta` seconds.
    public struct Knot: Sendable, Equatable {
        public var position: Int64
        public var eta: ETARange
    }

    public var room: String
    public var serverTimeMs: Int64
    public var state: RoomState
    public var opensAtMs: Int64?
    public var head: Int64
    public var tail: Int64
    public var onHold: Bool
    public var stale: Bool
    public var readAfterMs: Int
    public var claimWindowSeconds: Int
    public var eta: [Knot]
    public var prequeue: Int64
    public var lotteryCommitment: String?
    public var lotteryKey: String?
    /// The public value mixed into the draw at opening (with the key: the draw anyone can recompute).
    public var lotteryBeacon: String?

    /// The board for `snapshot`, with the same forecast a status poll uses.
    ///
    /// - Parameters:
    ///   - slotsFreeingPerSecond: while capacity binds, the measured rate at which slots come free.
    ///   - readAfterMs: how long a page waits before reading the board again.
    public init(snapshot: RoomSnapshot, slotsFreeingPerSecond: Double?, stale: Bool, readAfterMs: Int) {
        room = snapshot.name
        // Whole seconds: the page only needs the clock to count down to an opening, and a board that
        // changes only when the room does can be revalidated (304) while nothing moves.
        serverTimeMs = snapshot.redisNowMs / 1000 * 1000
        state = snapshot.state
        opensAtMs = snapshot.state == .scheduled && snapshot.settings.opensAtMs > 0 ? snapshot.settings.opensAtMs : nil
        head = snapshot.head
        tail = snapshot.tail
        self.stale = stale
        claimWindowSeconds = snapshot.settings.claimWindowSeconds
        self.readAfterMs = Self.readInterval(readAfterMs, claimWindowSeconds: claimWindowSeconds)
        prequeue = snapshot.prequeue
        // The draw is sealed (the commitment) when the opening time is set, and revealed (the key) at opening.
        lotteryCommitment = snapshot.lotteryCommitment
        lotteryKey = snapshot.state == .scheduled ? nil : snapshot.lotteryKey
        lotteryBeacon = snapshot.state == .scheduled ? nil : snapshot.lotteryBeacon
        switch snapshot.state {
        case .open:
            let lag = Self.lagSeconds(readAfterMs: self.readAfterMs)
            eta = Self.knots(snapshot: snapshot, slotsFreeingPerSecond: slotsFreeingPerSecond).map { knot in
                Knot(position: knot.position, eta: knot.eta.later(bySeconds: lag))
            }
            onHold = eta.isEmpty
        case .paused:
            eta = []
            onHold = true
        case .scheduled, .closed:
            eta = []
            onHold = false
        }
    }

    /// How late a page following the board can notice its turn: a whole read interval, plus the second a
    /// shared cache may hold the board. Added to the high end of every ETA a board-following page is shown
    /// (the knots, and the join and status answers that carry a place), so the range stays honest.
    public static func lagSeconds(readAfterMs: Int) -> Int {
        (readAfterMs + 999) / 1000 + 1
    }

    /// How often a page reads the board: as configured, but a shopper offered right after a read must still
    /// read again, and claim, within the claim window with a second-old board (as ``PollPolicy`` keeps polls
    /// within it): at most (claim window − 1 s) × 10/22, never under half a second.
    public static func readInterval(_ configured: Int, claimWindowSeconds: Int) -> Int {
        min(configured, max(500, (claimWindowSeconds * 1000 - 1000) * 10 / 22))
    }

    /// Knot positions: every position up to 3, then 1–1.5–2–3–5–7 per decade, then the back of the line. A
    /// page interpolates between them; the forecast is linear at a steady rate, so only a ramp bends it.
    public static func knotPositions(waiting: Int64) -> [Int64] {
        let last = max(0, waiting - 1)
        var positions: [Int64] = []
        var decade: Int64 = 1
        outer: while true {
            for step in [10, 15, 20, 30, 50, 70] as [Int64] {
                let position = decade == 1 ? min(step / 10, 3) : step * decade / 10
                if position > last { break outer }
                if positions.last != position { positions.append(position) }
            }
            if decade > Int64.max / 100 { break }
            decade *= 10
        }
        if positions.first != 0 { positions.insert(0, at: 0) }
        if positions.last != last { positions.append(last) }
        return positions
    }

    /// The ETA at each knot, or none when nothing is being admitted (rate 0, or capacity full with no slot
    /// coming free): the same arithmetic as ``ShopperStatus/decide(seq:jitterSeed:snapshot:slotsFreeingPerSecond:nowMs:policy:)``.
    static func knots(snapshot: RoomSnapshot, slotsFreeingPerSecond: Double?) -> [Knot] {
        let slots = snapshot.capacityBinds ? slotsFreeingPerSecond : nil
        var knots: [Knot] = []
        for position in knotPositions(waiting: snapshot.waiting) {
            guard
                let seconds = AdmissionForecast.secondsToOffer(
                    position + 1, settings: snapshot.settings, openedAtMs: snapshot.openedAtMs, nowMs: snapshot.redisNowMs,
                    showUp: snapshot.showUpRatio, slotsFreeingPerSecond: slots
                )
            else { return [] }
            knots.append(Knot(position: position, eta: ETARange.around(expectedSeconds: seconds, basis: slots == nil ? .model : .measured)))
        }
        return knots
    }

    /// The ETA a page works out for `position` from the knots: linear between them, from the last two beyond
    /// the last (low rounded down, high up, so interpolation never narrows the honest range). Nil on hold.
    public func eta(forPosition position: Int64) -> ETARange? {
        guard let first = eta.first else { return nil }
        if eta.count == 1 || position <= first.position { return first.eta }
        var index = eta.firstIndex { $0.position >= position } ?? eta.count - 1
        index = max(1, index)
        let a = eta[index - 1], b = eta[index]
        let fraction = Double(position - a.position) / Double(b.position - a.position)
        let low = Double(a.eta.low) + fraction * Double(b.eta.low - a.eta.low)
        let high = Double(a.eta.high) + fraction * Double(b.eta.high - a.eta.high)
        return ETARange(low: max(0, Int(low.rounded(.down))), high: Int(min(high.rounded(.up), Double(Int32.max))))
    }
}
