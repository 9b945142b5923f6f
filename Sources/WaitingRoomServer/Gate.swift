import WaitingRoomStore
import WaitingRoomTokens

/// The parts of a running gate that tests and embedders look inside. Routes do not hold it: each route
/// owner (``PublicRoutes``, ``AdminRoutes``, ``ServiceRoutes``, ``PlatformRoutes``) holds only what it uses.
public struct Gate: Sendable {
    public let store: RoomStore
    public let cache: RoomCache
    public let tickets: TicketSigner
    public let metrics: GateMetrics

    /// The Prometheus exposition of this instance (as `/metrics` serves it).
    public func metricsText() -> String { metrics.render() }
}
