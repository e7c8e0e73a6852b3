// The demo shop's client: streams events over /v1/stream and shows what the router pushes back. No build step.
(function () {
  const writeKey = new URLSearchParams(location.search).get('writeKey');
  const anonymousId = localStorage.getItem('demoAnonymousId') || ('demo-' + crypto.randomUUID());
  localStorage.setItem('demoAnonymousId', anonymousId);
  document.getElementById('anonymous-id').textContent = anonymousId;
  const status = document.getElementById('status');
  const log = document.getElementById('log');
  let cartCount = 0;
  let socket;
  const waiting = [];

  function show(line) {
    log.textContent = line + '\n' + log.textContent;
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(scheme + '//' + location.host + '/v1/stream?writeKey=' + encodeURIComponent(writeKey || ''));
    socket.onopen = () => {
      status.textContent = 'connected';
      status.className = 'connected';
      while (waiting.length) socket.send(waiting.shift());
      send({ type: 'page', name: 'Demo shop' });
    };
    socket.onmessage = (message) => {
      show('← ' + message.data);
      const frame = JSON.parse(message.data);
      if (frame.type === 'signal' && frame.properties && frame.properties.offer) {
        const offer = document.getElementById('offer');
        offer.textContent = '🎁 ' + frame.properties.offer;
        offer.className = 'shown';
      }
    };
    socket.onclose = (close) => {
      status.textContent = 'closed (' + close.code + (close.reason ? ': ' + close.reason : '') + ')';
      status.className = 'closed';
      if (close.code !== 1008) setTimeout(connect, 2000);
    };
  }

  function send(event) {
    event.anonymousId = anonymousId;
    event.messageId = crypto.randomUUID();
    event.timestamp = new Date().toISOString();
    event.context = Object.assign({ demo: true, page: { path: location.pathname } }, event.context || {});
    const text = JSON.stringify(event);
    show('→ ' + text);
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(text); else waiting.push(text);
  }

  document.querySelectorAll('#add-to-cart, .add').forEach((button) => button.addEventListener('click', () => {
    cartCount += 1;
    document.getElementById('cart-count').textContent = cartCount;
    document.getElementById('offer').className = '';
    send({ type: 'track', event: 'Product Added', properties: {
      product_id: button.dataset.id, name: button.dataset.name, price: Number(button.dataset.price), quantity: 1 } });
  }));
  document.getElementById('checkout').addEventListener('click', () => {
    cartCount = 0;
    document.getElementById('cart-count').textContent = 0;
    send({ type: 'track', event: 'Order Completed' });
  });
  connect();
})();
