/// What a shopper's signed ticket says: which room (and which incarnation of it), their place, and when.
///
/// The server keeps no per-shopper record while they wait; the ticket *is* the place in the queue.
/// Its text form is `v1.<room>.<epoch>.<seq>.<issuedAtMs>.<id>`; the HMAC is added by the ticket signer.
public struct QueueTicket: Sendable, Equatable {
    public var room: String
    /// Changes when a room is deleted and created again, so old tickets are foreign to the new room.
    public var epoch: String
    public var seq: Int64
    public var issuedAtMs: Int64
    /// Random id: the `sub` of the admission token and the key of the shopper's admission record.
    public var id: String

    public init(room: String, epoch: String, seq: Int64, issuedAtMs: Int64, id: String) {
        self.room = room
        self.epoch = epoch
        self.seq = seq
        self.issuedAtMs = issuedAtMs
        self.id = id
    }

    public var payload: String { "v1.\(room).\(epoch).\(seq).\(issuedAtMs).\(id)" }

    /// Parses a payload whose MAC has already been checked.
    public init?(payload: some StringProtocol) {
        let parts = payload.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "v1", RoomName.isValid(parts[1]), !parts[2].isEmpty,
            let seq = Int64(parts[3]), seq > 0, let issued = Int64(parts[4]), !parts[5].isEmpty
        else { return nil }
        self.init(room: String(parts[1]), epoch: String(parts[2]), seq: seq, issuedAtMs: issued, id: String(parts[5]))
    }
}
