/// One instance's cached view of a room: settings plus live counters, as of its last refresh.
///
/// Polls are answered from this alone, so a poll costs no Redis command.
public struct RoomSnapshot: Sendable, Equatable {
    public var name: String
    public var settings: RoomSettings
    public var state: RoomState
    public var epoch: String
    /// Last sequence number handed out.
    public var tail: Int64
    /// Everyone whose place is at or before `head` has been offered admission.
    public var head: Int64
    /// Size of the pre-queue whose order was drawn by lottery at opening (0 when there was none).
    public var prequeue: Int64
    /// The lottery key, revealed at opening (32 hex digits); nil before: until then only its commitment is known.
    public var lotteryKey: String?
    /// Hex SHA-256 of the lottery key's text, published as soon as the room has an opening time.
    public var lotteryCommitment: String?
    /// The beacon mixed into the draw, as it was at opening (nil before opening, or without one).
    public var lotteryBeacon: String?
    /// The key the permutation runs on (``lotteryKey`` with the beacon mixed in); nil means ``lotteryKey``.
    public var lotteryDrawKey: String?
    public var openedAtMs: Int64
    /// Claimed, unexpired, unreleased admissions.
    public var active: Int64
    /// Offers made and not yet claimed or lapsed.
    public var offers: Int64
    public var lapsed: Int64
    public var claims: Int64
    public var releases: Int64
    /// Measured fraction of offered shoppers who came back to claim (1 until measured).
    public var showUpRatio: Double
    /// Offers per second the ticker is aiming at (after ramp and show-up compensation).
    public var offerRate: Double
    /// The entry gate's next free entry time (ms, Redis clock).
    public var entryTatMs: Double
    /// When the oldest shopper still waiting joined (Redis clock), if anyone waits.
    public var oldestWaitingJoinedAtMs: Int64?
    /// Redis's clock when this snapshot was taken.
    public var redisNowMs: Int64
    /// Auto-tuning (``RateController``): why the effective rate (``RoomSettings/effectiveRate``, in
    /// `settings`) is what it is, when it last moved, and checkout's last health report; nil when none.
    public var rateReason: RateController.Reason? = nil
    public var rateTunedAtMs: Int64? = nil
    public var health: CheckoutHealth? = nil

    public init(
        name: String, settings: RoomSettings, state: RoomState, epoch: String, tail: Int64, head: Int64,
        prequeue: Int64 = 0, lotteryKey: String? = nil, openedAtMs: Int64 = 0, active: Int64 = 0, offers: Int64 = 0,
        lapsed: Int64 = 0, claims: Int64 = 0, releases: Int64 = 0, showUpRatio: Double = 1, offerRate: Double = 0,
        entryTatMs: Double = 0, oldestWaitingJoinedAtMs: Int64? = nil, redisNowMs: Int64 = 0
    ) {
        self.name = name
        self.settings = settings
        self.state = state
        self.epoch = epoch
        self.tail = tail
        self.head = head
        self.prequeue = prequeue
        self.lotteryKey = lotteryKey
        self.openedAtMs = openedAtMs
        self.active = active
        self.offers = offers
        self.lapsed = lapsed
        self.claims = claims
        self.releases = releases
        self.showUpRatio = showUpRatio
        self.offerRate = offerRate
        self.entryTatMs = entryTatMs
        self.oldestWaitingJoinedAtMs = oldestWaitingJoinedAtMs
        self.redisNowMs = redisNowMs
    }

    /// People who joined and have not been offered admission yet.
    public var waiting: Int64 { max(0, tail - head) }

    /// True when capacity, not the rate, holds offers back: every slot is taken by an admission or an offer.
    public var capacityBinds: Bool {
        guard let capacity = settings.capacity, state == .open else { return false }
        return active + offers >= Int64(capacity)
    }

    /// The place in line of queue number `seq`: drawn by lottery for the pre-queue, FIFO after it.
    public func effectivePosition(ofSeq seq: Int64) -> Int64 {
        guard seq <= prequeue, prequeue > 0, let key = lotteryDrawKey ?? lotteryKey,
            let lottery = LotteryPermutation(size: UInt64(prequeue), key: key)
        else { return seq }
        return Int64(lottery.permute(UInt64(seq - 1))) + 1
    }
}
