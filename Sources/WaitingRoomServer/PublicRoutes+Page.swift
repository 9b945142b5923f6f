import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WaitingRoomCore

/// The waiting page, `/wait/{room}`: the shop's page in the shopper's language. With JavaScript, the page's
/// script joins and polls the public API. Without it (`?js=0`, where the page's noscript refresh leads),
/// the server joins and polls for the shopper through the same API handlers — the same ticket rules and
/// join checks — and renders the answer; the page refreshes itself after `pollAfterMs`.
extension PublicRoutes {
    func addPages(to router: Router<BasicRequestContext>) {
        router.get("/wait/:room") { request, context in try await self.waitPage(request, context) }
        // "Join the line again" without JavaScript: a new place at the back, then the page.
        router.post("/wait/:room") { request, context in try await self.joinAgainForm(request, context) }
    }

    func waitPage(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let accepted = request.headers[.acceptLanguage]
        guard let (room, entry) = try? await self.room(context) else {
            let language = PagePresentation.language(acceptLanguage: accepted)
            let brand = WaitPage.Brand(room: "", settings: nil, language: language)
            let page = pages.wait
            let html = page.render(brand, page.notFound(language), title: page.text("not_found_title", language))
            return Responses.html(status: .notFound, html, scriptHashes: page.template.scriptHashes)
        }
        let settings = entry.snapshot.settings
        var brand = WaitPage.Brand(room: room, settings: settings, language: PagePresentation.language(acceptLanguage: accepted, fixed: settings.language))
        brand.pass = request.uri.queryParameters.get("pass").map { String($0) }
        let page = pages.wait
        guard request.uri.queryParameters.get("js") == "0" else {
            return pageResponse(page.render(brand, page.joining(brand.language)), brand: brand)
        }
        var request = request
        // A join pass from the shop's link travels as the header the script would send.
        if let pass = brand.pass {
            var head = request.head
            head.headerFields[JoinPassKeys.header] = pass
            request = Request(head: head, body: request.body)
        }
        let nowMs = Self.nowMs()
        let held = presentedTicket(request, room: room).flatMap { try? verifiedTicket($0, room: room, epoch: entry.snapshot.epoch, nowMs: nowMs) }
        let answer: Response
        do {
            answer = try await held == nil ? join(request, context) : status(request, context)
        } catch let error as APIError {
            return pageResponse(page.render(brand, page.view(error, brand: brand)), brand: brand)
        }
        let body = try await Self.collect(answer)
        guard answer.status == .ok, let status = try? JSONDecoder().decode(WaitPage.Status.self, from: body) else {
            return pageResponse(page.render(brand, page.view(APIError(answer.status, "error", ""), brand: brand)), brand: brand)
        }
        let ticketID = held?.id ?? status.ticket.flatMap { try? tickets.open($0) }.flatMap { QueueTicket(payload: $0) }?.id ?? ""
        var response = pageResponse(
            page.render(brand, page.view(status, brand: brand, queueID: PagePresentation.queueID(ticketID: ticketID), now: Date())), brand: brand
        )
        if let cookie = answer.headers[.setCookie] { response.headers[.setCookie] = cookie }
        return response
    }

    /// The form behind "Join the line again": only from this site's own page (a forged cross-site post
    /// would cost the shopper their place), then back to the page with the new ticket's cookie.
    func joinAgainForm(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let room = try RequestReader.roomName(context)
        if let site = request.headers[.secFetchSite], site != "same-origin", site != "none" {
            throw APIError(.forbidden, "cross_site", "this form only works from the waiting page")
        }
        var headers: HTTPFields = [.location: "/wait/\(room)?js=0", .cacheControl: "no-store"]
        if request.uri.queryParameters.get("again") == "1" {
            // The API's own "join again": a new place at the back whatever ticket the cookie holds.
            var head = request.head
            let body = ByteBuffer(string: #"{"fresh":true}"#)
            head.headerFields[.contentType] = "application/json"
            head.headerFields[.contentLength] = String(body.readableBytes)
            head.headerFields[.transferEncoding] = nil
            if let answer = try? await join(Request(head: head, body: RequestBody(buffer: body)), context), let cookie = answer.headers[.setCookie] {
                headers[.setCookie] = cookie
            }
        }
        return Response(status: .seeOther, headers: headers)
    }

    /// A page with its headers; the CSP lets the shop's logo load from the shop's own origin.
    private func pageResponse(_ html: String, brand: WaitPage.Brand) -> Response {
        PageSecurity.page(
            status: .ok, html, scriptHashes: pages.wait.template.scriptHashes, imageOrigins: brand.logoUrl.flatMap(PageSecurity.origin).map { [$0] } ?? []
        )
    }

    /// The body an API handler answered with.
    static func collect(_ response: Response) async throws -> Data {
        final class Sink: ResponseBodyWriter {
            var data = Data()
            func write(_ buffer: ByteBuffer) async throws { data.append(contentsOf: buffer.readableBytesView) }
            func finish(_ trailingHeaders: HTTPFields?) async throws {}
        }
        let sink = Sink()
        try await response.body.write(sink)
        return sink.data
    }
}

extension HTTPField.Name {
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
}
