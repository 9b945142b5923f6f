import Hummingbird
import NIOCore
import Synchronization
import WaitingRoomCore
import WaitingRoomStore

/// `GET /v1/rooms/{room}/board`: the room's public board (``RoomBoard``), the same bytes for every shopper.
///
/// Built at most once per cache refresh (10 a second) and per staleness, on the first read after it; every
/// other read is a dictionary lookup and a retained buffer. Cacheable by any shared cache for a second (and
/// served stale while it revalidates or while the gate errs), with an ETag; no cookie is read or set, so a
/// CDN keyed on the path serves one copy per room.
struct BoardRoutes: Sendable {
    /// Browsers and caches may use a board for a second, then serve it stale while revalidating.
    static let cacheControl = "public, max-age=1, stale-while-revalidate=5, stale-if-error=30"
    /// An unknown room is remembered by caches for a few seconds (a flood of made-up names stays at the edge).
    static let notFoundCacheControl = "public, max-age=5"

    let rooms: RoomLookup
    let boards: BuiltBoards
    let metrics: GateMetrics

    func add(to router: Router<BasicRequestContext>) {
        router.get("/v1/rooms/:room/board") { request, context in await self.board(request, context) }
    }

    func board(_ request: Request, _ context: BasicRequestContext) async -> Response {
        guard let name = context.parameters.get("room"), RoomName.isValid(name), let entry = await rooms.entry(name) else {
            return Response(
                status: .notFound,
                headers: [
                    .contentType: "application/json; charset=utf-8", .cacheControl: Self.notFoundCacheControl, .xContentTypeOptions: "nosniff",
                ],
                body: .init(byteBuffer: ByteBuffer(staticString: #"{"error":"not_found","message":"no such room"}"#))
            )
        }
        metrics.boardReads.increment()
        let built = boards.board(for: entry)
        if let tags = request.headers[.ifNoneMatch], Self.matches(tags, built.etag) {
            return Response(status: .notModified, headers: [.eTag: built.etag, .cacheControl: Self.cacheControl])
        }
        return Response(
            status: .ok,
            headers: [.contentType: "application/json", .cacheControl: Self.cacheControl, .eTag: built.etag],
            body: .init(byteBuffer: built.body)
        )
    }

    /// `If-None-Match`: `*`, or a list of (possibly weak) tags, one of which is ours.
    static func matches(_ header: String, _ etag: String) -> Bool {
        if header.trimmingCharacters(in: .whitespaces) == "*" { return true }
        return header.split(separator: ",").contains { tag in
            var tag = tag.trimmingCharacters(in: .whitespaces)
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            return tag == etag
        }
    }
}

/// Each room's encoded board, kept until the room's next refresh (or until it turns stale or its read
/// interval changes), and how many pages read it here (``BoardPacing``).
final class BuiltBoards: Sendable {
    struct Built: Sendable {
        let refreshedAt: ContinuousClock.Instant
        let stale: Bool
        let readAfterMs: Int
        let body: ByteBuffer
        let etag: String
    }

    private struct Room {
        var built: Built?
        var pacing: BoardPacing
    }

    private let readAfterMs: Int
    private let readsPerSecond: Int
    private let rooms = Mutex<[String: Room]>([:])

    init(readAfterMs: Int, readsPerSecond: Int) {
        self.readAfterMs = readAfterMs
        self.readsPerSecond = readsPerSecond
    }

    /// The read interval the room's board tells pages now (as configured until it has been read here).
    func readAfterMs(room: String, claimWindowSeconds: Int) -> Int {
        let paced = rooms.withLock { $0[room]?.pacing.intervalMs } ?? readAfterMs
        return RoomBoard.readInterval(paced, claimWindowSeconds: claimWindowSeconds)
    }

    /// The board to answer one read with (the read is counted).
    func board(for entry: RoomCache.Entry, now: ContinuousClock.Instant = .now) -> Built {
        let name = entry.snapshot.name
        let (current, interval) = rooms.withLock { rooms in
            // Rooms come and go: forget rooms this gate no longer sees once there are many.
            if rooms.count > 4_096, rooms[name] == nil { rooms.removeAll(keepingCapacity: true) }
            var room = rooms[name] ?? Room(pacing: BoardPacing(configuredMs: readAfterMs, readsPerSecond: Double(readsPerSecond)))
            room.pacing.read(at: now, ceilingMs: RoomBoard.readInterval(60_000, claimWindowSeconds: entry.snapshot.settings.claimWindowSeconds))
            rooms[name] = room
            return (room.built, room.pacing.intervalMs)
        }
        if let current, current.refreshedAt == entry.refreshedAt, current.stale == entry.isStale, current.readAfterMs == interval {
            return current
        }
        let board = RoomBoard(snapshot: entry.snapshot, slotsFreeingPerSecond: entry.slotsFreeingPerSecond, stale: entry.isStale, readAfterMs: interval)
        let (json, version) = board.encoded
        let fresh = Built(refreshedAt: entry.refreshedAt, stale: entry.isStale, readAfterMs: interval, body: ByteBuffer(string: json), etag: "\"\(version)\"")
        rooms.withLock { rooms in
            if let other = rooms[name]?.built, other.refreshedAt > fresh.refreshedAt { return }
            rooms[name]?.built = fresh
        }
        return fresh
    }
}
