CREATE INDEX requests_created ON requests (created_at);
