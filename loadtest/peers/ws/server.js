// Baseline peer for `chophien-loadtest chat --peer ws`.
//
// The lean Node.js room broadcast everybody writes with the `ws` package:
// every socket is in one room, and each text message a client sends is
// re-broadcast, as the same string, to every open socket (the sender
// included, as Chợ Phiên echoes chat to its sender). The loop is the `ws`
// README's broadcast example. No compression, no per-message framing work
// beyond what `ws` does for any send, so the comparison is about the fan-out
// itself.
//
// Frames have the Socket.IO peer's payload shape, `["chat","lt|…|"]`, without
// Engine.IO's `42` prefix: the harness sends that, and the peer forwards it
// untouched. On connection the peer sends `["joined"]`, so the harness knows
// the socket is in the room before it counts it (as it waits for our
// `snapshot` and Socket.IO's `40`). Listens on 127.0.0.1:$PORT and prints
// "listening <port>".
"use strict";

const http = require("http");
const { WebSocketServer, WebSocket } = require("ws");

const port = Number(process.env.PORT || 0);
const httpServer = http.createServer();
const wss = new WebSocketServer({
  server: httpServer,
  perMessageDeflate: false,
  // Generous, like the Socket.IO peer's: throughput, not back-pressure.
  maxPayload: 1e6,
});

wss.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => {
    // The received bytes, sent as they came (a text frame stays text): no
    // re-encoding per recipient.
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) {
        client.send(data, { binary: isBinary });
      }
    }
  });
  socket.send('["joined"]');
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    wss.close();
    process.exit(0);
  });
}
