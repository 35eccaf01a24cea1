"""The service floor: what the front doors (CLI, REST API, review page) share.

- :mod:`~novaavatar.service.production` starts work (scrape, produce, regenerate, manual
  creation) from typed options, on the Prefect server's deployments when there is one, else
  in-process;
- :mod:`~novaavatar.service.decisions` records a review decision with its webhook;
- :mod:`~novaavatar.service.lookup` reads items, videos and the queue from the store;
- :mod:`~novaavatar.service.jobs` follows the work this process started;
- :mod:`~novaavatar.service.stack` runs the local stack (`make up`).

Arrows point down only: this floor calls flows/, tasks/ and the core modules; it never
imports a front door, and the front doors never import one another.
"""
