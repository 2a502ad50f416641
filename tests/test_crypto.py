"""Values sealed to their place, indexes keyed by purpose (issue 15, point 4): a cipher copied
into another row or column does not open, and one chat id gives unrelated indexes in the
subscribers' and the coordinators' tables."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from bot.core.audit import Actor
from bot.core.vocabulary import DeliveryStatus, Role
from bot.storage.crypto import KeyError_, Purpose, Vault, generate_key
from bot.storage.models import CoordinatorRow, SubscriberRow, place
from tests.conftest import Bot
from tests.support import subscribed
from tests.test_fences import broadcast, received

CHAT = "5550001"


def vault(*keys: bytes) -> Vault:
    return Vault(list(keys) or [generate_key().encode()])


def test_a_sealed_value_opens_only_in_its_own_row_and_column() -> None:
    v = vault()
    sealed = v.seal("+13125550100", place(SubscriberRow.address_cipher, 7))
    assert v.open(sealed, place(SubscriberRow.address_cipher, 7)) == "+13125550100"
    for elsewhere in (
        place(SubscriberRow.address_cipher, 8),  # another row
        place(CoordinatorRow.telegram_cipher, 7),  # another column
    ):
        with pytest.raises(KeyError_, match="does not open here"):
            v.open(sealed, elsewhere)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(KeyError_):
        v.open(tampered, place(SubscriberRow.address_cipher, 7))
    assert b"+1312" not in sealed


def test_one_chat_id_gives_unrelated_indexes_for_each_purpose() -> None:
    v = vault()
    indexes = {purpose: v.index(CHAT, purpose) for purpose in Purpose}
    assert len(set(indexes.values())) == len(Purpose)
    assert v.index(CHAT, Purpose.SUBSCRIBER) == v.index(CHAT, Purpose.SUBSCRIBER)  # stable
    assert CHAT not in "".join(indexes.values())


def test_values_and_indexes_from_before_still_open_until_rotated() -> None:
    key = generate_key().encode()
    legacy = Fernet(key).encrypt(CHAT.encode())  # how values were stored before sealing
    v = vault(key)
    assert v.open(legacy, place(SubscriberRow.address_cipher, 1)) == CHAT
    assert not v.current(legacy)
    resealed = v.reseal(legacy, place(SubscriberRow.address_cipher, 1))
    assert v.current(resealed)
    # The old purpose-less index is among those a lookup tries, after the newest.
    found = v.indexes(CHAT, Purpose.SUBSCRIBER)
    assert found[0] == v.index(CHAT, Purpose.SUBSCRIBER) and len(found) == 2


def test_a_value_names_its_key_and_a_removed_key_is_said_so() -> None:
    old, new = generate_key().encode(), generate_key().encode()
    sealed = vault(old).seal(CHAT, "t.c#1")
    assert vault(new, old).open(sealed, "t.c#1") == CHAT
    assert not vault(new, old).current(sealed)
    with pytest.raises(KeyError_, match="not in DATA_KEY"):
        vault(new).open(sealed, "t.c#1")


async def test_a_chat_id_copied_into_another_subscriber_is_not_sent_to(bot: Bot) -> None:
    users = await subscribed(bot, 94000, n=4)
    async with bot.services.db.transaction() as session:
        first, second = (await session.scalars(select(SubscriberRow).limit(2))).all()
        # Someone with write access to the database points a row at another person.
        await session.execute(
            update(SubscriberRow)
            .where(SubscriberRow.id == second.id)
            .values(address_cipher=first.address_cipher)
        )
    progress = await broadcast(bot, "Checkpoint at Cermak.")
    assert progress.counts.get(("telegram", DeliveryStatus.FAILED.value)) == 1
    got = received(bot, "Checkpoint at Cermak")
    assert set(got.values()) == {1} and len(got) == len(users) - 1  # nobody twice


async def test_a_coordinator_and_a_subscriber_with_one_chat_id_do_not_share_an_index(
    bot: Bot,
) -> None:
    [chat] = await subscribed(bot, 95000, n=1)
    await bot.services.coordinators.add(chat, Role.COORDINATOR, "Rosa", Actor.operator())
    async with bot.services.db.transaction() as session:
        subscriber = (await session.scalars(select(SubscriberRow.address_index))).one()
        coordinator = (await session.scalars(select(CoordinatorRow.telegram_index))).one()
    assert subscriber != coordinator
