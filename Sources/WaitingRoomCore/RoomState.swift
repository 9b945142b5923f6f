/// The state of a room, as ops set it.
public enum RoomState: String, Codable, Sendable, CaseIterable {
    /// Before `opensAt`: arrivals join a pre-queue whose order is drawn by lottery at opening.
    case scheduled
    /// Admitting at the configured rate.
    case open
    /// Nobody is admitted; everyone keeps their place.
    case paused
    /// Sold out: joins are refused and waiting shoppers are told so.
    case closed
}
