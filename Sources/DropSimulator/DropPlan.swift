/// What to simulate: where the gate is, how many shoppers, how they arrive and behave.
public struct DropPlan: Sendable {
    /// Base URLs of the gate instances; shoppers are spread over them (joins and polls on different ones).
    public var gateURLs: [String]
    public var room: String
    public var shoppers: Int
    public var arrivals: ArrivalCurve
    /// Shoppers who join and then stop polling (closed tab, gave up).
    public var abandonFraction: Double
    /// The configured entry rate (claims per second) the report is judged against.
    public var rate: Double
    public var claimWindowSeconds: Double
    /// When set, admitted shoppers check out there (`POST /checkout/order` with the token).
    public var orderServiceURL: String?
    /// When set (and no order service), admitted shoppers release their slot through the gate's service API.
    public var serviceKey: String?
    /// HTTP connections per gate instance.
    public var connectionsPerGate: Int
    /// Give up on shoppers still waiting after this long.
    public var timeLimitSeconds: Double
    /// The first this many shoppers to arrive are bots that join and never come back (no-shows ahead of
    /// real shoppers: what the show-up compensation must not turn into an entry spike).
    public var noShows: Int = 0
    /// When admissions start, in seconds since the drop began (a scheduled opening or a resume; 0 when
    /// the room is open from the start).
    public var openingSeconds: Double = 0
    /// The room opens onto a pre-queue ordered by lottery: FIFO is judged among later arrivals only.
    public var lottery = false
    /// The room's ramp after opening (for the report's "during the ramp" ETA figure).
    public var rampSeconds: Double?
    /// Bot joins to attempt, from the start, as fast as the gates answer; bots never poll or claim.
    public var bots = 0
    /// Client addresses the bots join from (each honest shopper has an address of their own).
    public var botClients = 1
    /// How waiting shoppers follow the queue: by the room board (as the waiting page does), or by polling
    /// `status` as told (apps, and the comparison with the gate before the board).
    public var pollMode = PollMode.board
    /// Board mode: reader loops that read the board (through the cache, when there is one) for everyone.
    public var boardReaders = 4

    public enum PollMode: String, Sendable, Codable, CaseIterable {
        case board
        case status
    }

    public init(
        gateURLs: [String], room: String, shoppers: Int, arrivals: ArrivalCurve, abandonFraction: Double, rate: Double,
        claimWindowSeconds: Double, orderServiceURL: String? = nil, serviceKey: String? = nil, connectionsPerGate: Int = 256,
        timeLimitSeconds: Double = 900
    ) {
        self.gateURLs = gateURLs
        self.room = room
        self.shoppers = shoppers
        self.arrivals = arrivals
        self.abandonFraction = abandonFraction
        self.rate = rate
        self.claimWindowSeconds = claimWindowSeconds
        self.orderServiceURL = orderServiceURL
        self.serviceKey = serviceKey
        self.connectionsPerGate = connectionsPerGate
        self.timeLimitSeconds = timeLimitSeconds
    }

    /// The address shopper `index` joins from (sent as `X-Forwarded-For`; the gates must trust the
    /// simulator's address as a proxy for it to count): one per shopper, in 10.0.0.0/8.
    public static func shopperAddress(_ index: Int) -> String {
        "10.\((index >> 16) & 255).\((index >> 8) & 255).\(index & 255)"
    }

    /// The address bot client `index` joins from, in 198.18.0.0/15 (benchmarking addresses).
    public static func botAddress(_ index: Int) -> String {
        "198.\(18 + (index >> 16) & 1).\((index >> 8) & 255).\(index & 255)"
    }

    /// Whether shopper `index` abandons: spread evenly (every k-th), so the fraction is exact and repeatable.
    public func abandons(_ index: Int) -> Bool {
        if index < noShows { return true }
        guard abandonFraction > 0 else { return false }
        return Int(Double(index + 1) * abandonFraction) > Int(Double(index) * abandonFraction)
    }
}
