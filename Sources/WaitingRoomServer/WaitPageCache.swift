import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import WaitingRoomCore
import WaitingRoomTokens

/// The waiting page built ahead of the requests: per room and language, the JavaScript page as bytes with
/// its headers (the same for every shopper, so any shared cache may keep it), and the template with the
/// shop's side filled in for the page without JavaScript. A room's pages are rebuilt when its page
/// settings change (the first request after the change sees the new settings and builds once); the
/// template is loaded at start-up. The unknown room's page, one per language, is built at start-up.
final class WaitPageCache: Sendable {
    /// A room's page in one language.
    struct Room: Sendable {
        /// What the pages were built from: a request whose room has other settings rebuilds them.
        let brand: WaitPage.Brand
        /// The shop's side filled in: the page without JavaScript renders its view into it.
        let prepared: PageTemplate
        /// The JavaScript page with only its noscript refresh left open (a join pass in the URL goes there).
        let joining: PageTemplate
        /// The JavaScript page as served, and its headers (`public`, an `ETag`, the CSP).
        let body: ByteBuffer
        let headers: HTTPFields
        let etag: String
        /// The same security headers for a page made for one shopper (`no-store`).
        let privateHeaders: HTTPFields
    }

    /// The unknown room's page in one language.
    struct Missing: Sendable {
        let body: ByteBuffer
        let headers: HTTPFields
    }

    /// How long a shared cache may keep the JavaScript page: a settings change reaches shoppers behind a
    /// cache within this (and `staleWhileRevalidate`).
    static let maxAgeSeconds = 30
    static let staleWhileRevalidateSeconds = 30
    /// An unknown room's page is kept briefly: the room may be created in a moment.
    static let missingMaxAgeSeconds = 10

    let page: WaitPage
    private let rooms = Mutex<[Key: Room]>([:])
    private let missing: [String: Missing]
    private let maxRooms: Int

    private struct Key: Hashable {
        var room: String
        var language: String
    }

    init(page: WaitPage, maxRooms: Int = 5_000) {
        self.page = page
        self.maxRooms = maxRooms
        var missing: [String: Missing] = [:]
        for language in PagePresentation.languages {
            let brand = WaitPage.Brand(room: "", settings: nil, language: language)
            let html = page.render(brand, page.notFound(language), title: page.text("not_found_title", language))
            var headers = Self.headers(scriptHashes: page.template.scriptHashes, imageOrigins: [])
            headers[.cacheControl] = "public, max-age=\(Self.missingMaxAgeSeconds)"
            missing[language] = Missing(body: ByteBuffer(string: html), headers: headers)
        }
        self.missing = missing
    }

    /// The room's pages in `language`, built now when there are none yet or the room's settings changed.
    func room(_ name: String, settings: RoomSettings, language: String) -> Room {
        let brand = WaitPage.Brand(room: name, settings: settings, language: language)
        let key = Key(room: name, language: language)
        if let room = rooms.withLock({ $0[key] }), room.brand == brand { return room }
        // Built outside the lock: two requests racing after a change both build, and either result is right.
        let room = build(brand)
        rooms.withLock { rooms in
            if rooms.count >= maxRooms { rooms.removeAll(keepingCapacity: true) }
            rooms[key] = room
        }
        return room
    }

    /// The unknown room's page in `language` (English for a language the page does not have).
    func missing(_ language: String) -> Missing {
        missing[language] ?? missing[PagePresentation.languages[0]]!
    }

    private func build(_ brand: WaitPage.Brand) -> Room {
        let prepared = page.prepare(brand)
        let view = page.joining(brand.language)
        var values = page.viewValues(brand, view, pass: nil)
        values["refresh"] = nil
        let joining = prepared.filling(values)
        let body = ByteBuffer(string: joining.render(["refresh": page.refreshTag(brand, seconds: view.refreshSeconds ?? 0, pass: nil, rejoined: "")]))
        let etag = "\"" + Digest.sha256(Array(body.readableBytesView)).prefix(12).map { String(format: "%02x", $0) }.joined() + "\""
        let imageOrigins = brand.logoUrl.flatMap(PageSecurity.origin).map { [$0] } ?? []
        let privateHeaders = Self.headers(scriptHashes: page.template.scriptHashes, imageOrigins: imageOrigins)
        var headers = privateHeaders
        headers[.cacheControl] = "public, max-age=\(Self.maxAgeSeconds), stale-while-revalidate=\(Self.staleWhileRevalidateSeconds)"
        headers[.eTag] = etag
        return Room(brand: brand, prepared: prepared, joining: joining, body: body, headers: headers, etag: etag, privateHeaders: privateHeaders)
    }

    /// A page's headers: the security headers, HTML, `no-store` (callers that may be cached say so).
    static func headers(scriptHashes: [String], imageOrigins: [String]) -> HTTPFields {
        var headers = PageSecurity.baseHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] = PageSecurity.contentSecurityPolicy(scriptHashes: scriptHashes, imageOrigins: imageOrigins)
        return headers
    }
}
