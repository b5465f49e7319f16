"""The ShopFast demo organisation: a deterministic fixture for demos, tests and benchmarks.

from seed import generate_demo_org
org = generate_demo_org(Path("demo-out"), seed=42)
org.repo_path("order-service"), org.manifest["incidents"], ...
"""

from seed.manifest import DemoOrg
from seed.org import generate_demo_org

__all__ = ["DemoOrg", "generate_demo_org"]
