import Metrics
import Prometheus
import Synchronization
import WaitingRoomCore

/// The gate's metrics, on swift-metrics with a per-instance Prometheus registry (served at `/metrics`).
///
/// Request-level figures are counted by this instance (`waitroom_*_total`); room figures (`waitroom_room_*`)
/// are room-wide values read from Redis, so every instance reports the same numbers: aggregate with `max`.
public final class GateMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    let joins: Metrics.Counter
    let claims: Metrics.Counter
    let expiredClaims: Metrics.Counter
    let releases: Metrics.Counter
    let consumes: Metrics.Counter
    let redisErrors: Metrics.Counter
    let redisReconnects: Metrics.Counter
    /// Room board reads this gate answered (200 or 304): with a cache in front, about one a second per room.
    let boardReads: Metrics.Counter
    /// Waiting page loads this gate answered (`GET /wait/…`).
    let pageLoads: Metrics.Counter
    /// Completed cache refreshes (tick of every room) by this instance.
    public let refreshes: Metrics.Counter
    let joinLatency: Metrics.Timer
    let statusLatency: Metrics.Timer
    let claimLatency: Metrics.Timer

    private let roomGauges = Mutex<[String: [String: Metrics.Gauge]]>([:])

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5),
        ]
        self.factory = factory
        joins = Metrics.Counter(label: "waitroom_joins_total", factory: factory)
        claims = Metrics.Counter(label: "waitroom_claims_total", factory: factory)
        expiredClaims = Metrics.Counter(label: "waitroom_claims_expired_total", factory: factory)
        releases = Metrics.Counter(label: "waitroom_releases_total", factory: factory)
        consumes = Metrics.Counter(label: "waitroom_consumes_total", factory: factory)
        redisErrors = Metrics.Counter(label: "waitroom_redis_errors_total", factory: factory)
        redisReconnects = Metrics.Counter(label: "waitroom_redis_reconnects_total", factory: factory)
        refreshes = Metrics.Counter(label: "waitroom_cache_refreshes_total", factory: factory)
        boardReads = Metrics.Counter(label: "waitroom_board_reads_total", factory: factory)
        pageLoads = Metrics.Counter(label: "waitroom_page_loads_total", factory: factory)
        joinLatency = Metrics.Timer(label: "waitroom_join_duration_seconds", factory: factory)
        statusLatency = Metrics.Timer(label: "waitroom_status_duration_seconds", factory: factory)
        claimLatency = Metrics.Timer(label: "waitroom_claim_duration_seconds", factory: factory)
    }

    /// Publishes the room-wide figures of the latest refresh.
    func record(_ snapshots: [String: RoomSnapshot]) {
        refreshes.increment()
        for (room, snapshot) in snapshots {
            let values: [(String, Double)] = [
                ("waitroom_room_waiting", Double(snapshot.waiting)),
                ("waitroom_room_head", Double(snapshot.head)),
                ("waitroom_room_tail", Double(snapshot.tail)),
                ("waitroom_room_active", Double(snapshot.active)),
                ("waitroom_room_offers", Double(snapshot.offers)),
                ("waitroom_room_joins", Double(snapshot.tail)),
                ("waitroom_room_claims", Double(snapshot.claims)),
                ("waitroom_room_releases", Double(snapshot.releases)),
                ("waitroom_room_lapsed_offers", Double(snapshot.lapsed)),
                ("waitroom_room_show_up_ratio", snapshot.showUpRatio),
                ("waitroom_room_offer_rate", snapshot.offerRate),
                ("waitroom_room_rate", snapshot.settings.rate),
            ]
            let gauges = roomGauges.withLock { all -> [String: Metrics.Gauge] in
                if let existing = all[room] { return existing }
                var made: [String: Metrics.Gauge] = [:]
                for (name, _) in values { made[name] = Metrics.Gauge(label: name, dimensions: [("room", room)], factory: factory) }
                all[room] = made
                return made
            }
            for (name, value) in values { gauges[name]?.record(value) }
        }
    }

    func record(_ timer: Metrics.Timer, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        timer.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }

    /// The Prometheus text exposition.
    public func render() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
