"""The staff user pool on the local stack: built by moto's Cognito from template.yaml's
own properties; `salonbot staff add` puts a user in their salon's group; the
user-password sign-in gives an access token that the template's `StaffCognito`
authorizer, enforced by the local gateway's verifier with the pool's key set, accepts,
and an ID token, a wrong password or the AI API's token is refused."""

from __future__ import annotations

import uuid

import jwt
import pytest

from salonbot.errors import InvalidInput, Unauthenticated
from salonbot.staff.identity import staff_member
from salonbot.staff.sign_in import password_sign_in
from salonbot_dev.local.authorizers import JwtVerifier, Refusal, route_auth
from salonbot_dev.local.aws_resources import USER_POOL, AwsClients, ResourceBuilder
from salonbot_dev.local.stack import _user_pools, user_pool_key_set
from salonbot_dev.local.template import Resolver, Template
from salonbot_dev.staff_users import add_staff
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

# A region of its own: other tests build the same template on the shared moto server.
REGION = "ca-central-1"
SALON = uuid.UUID("3f0c1a52-0000-4000-8000-000000000001")


def test_a_staff_users_token_passes_the_templates_authorizer(moto_url: str) -> None:
    # Given the template's Cognito resources created on moto
    template = Template.load(REPO_ROOT / "template.yaml")
    resolver = Resolver(template, region=REGION)
    aws = AwsClients.for_endpoint(moto_url, REGION)
    builder = ResourceBuilder(resolver, aws)
    created = builder.create_all()
    (pool,) = [c.physical_id for c in created if c.type == USER_POOL]
    client_id = resolver.refs["StaffConsoleClient"]
    described = aws.cognito.describe_user_pool(UserPoolId=pool)["UserPool"]
    assert described["UsernameAttributes"] == ["email"]
    assert described["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    # When an owner is added and signs in with their password
    user = add_staff(
        aws.cognito,
        pool,
        salon_id=SALON,
        email="owner@example.com",
        password="Owner-pass-2026",
        role="owner",
    )
    assert user.groups == ("owner", f"salon:{SALON}")
    tokens = password_sign_in(client_id, "owner@example.com", "Owner-pass-2026", client=aws.cognito)
    # Then the gateway's check of a staff route (as the template defines it) accepts it
    staff_event = template.function_properties("StaffFunction")["Events"]["StaffGet"]
    auth = route_auth(resolver, staff_event["Properties"])
    assert auth is not None and auth.authorizer.name == "StaffCognito"
    pools = _user_pools(created)
    assert set(pools) == {auth.authorizer.issuer}
    verifier = JwtVerifier({auth.authorizer.issuer: user_pool_key_set(moto_url, pool)})
    granted = verifier.authorize(auth, {"authorization": f"Bearer {tokens.access_token}"}, {})
    member = staff_member(granted.claims)
    assert member.salons == {SALON} and member.is_owner
    # and the routes refuse what API Gateway would: an ID token (no scope), no token
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    assert claims["client_id"] == client_id
    id_token = aws.cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "owner@example.com", "PASSWORD": "Owner-pass-2026"},
    )["AuthenticationResult"]["IdToken"]
    with pytest.raises(Refusal) as refused:
        verifier.authorize(auth, {"authorization": f"Bearer {id_token}"}, {})
    assert refused.value.status == 403
    with pytest.raises(Refusal) as missing:
        verifier.authorize(auth, {}, {})
    assert missing.value.status == 401
    with pytest.raises(Unauthenticated):
        password_sign_in(client_id, "owner@example.com", "wrong-password", client=aws.cognito)


def test_staff_add_names_the_bad_field(moto_url: str) -> None:
    aws = AwsClients.for_endpoint(moto_url, REGION)
    pool = aws.cognito.create_user_pool(PoolName="p", UsernameAttributes=["email"])["UserPool"]
    with pytest.raises(InvalidInput) as role:
        add_staff(
            aws.cognito,
            pool["Id"],
            salon_id=SALON,
            email="a@example.com",
            password="Pass-word-1",
            role="boss",
        )
    assert role.value.field == "--role"
    with pytest.raises(InvalidInput) as email:
        add_staff(
            aws.cognito, pool["Id"], salon_id=SALON, email="not-an-address", password="Pass-word-1"
        )
    assert email.value.field == "--email"
